"""双报到 registrations through GraphQL: work units, their and party members' registrations, members' posts, and the
building-head coverage report. Resolvers are thin: the services in tenants/dual/ check who may do what."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.dual.loaders import DualLoaders
from api.ids import global_id_of, opt_id, to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from api.territory.types import BuildingType, area_of
from tenants.dual import coverage as coverage_service
from tenants.dual import posts as post_service
from tenants.dual import registrations as member_service
from tenants.dual import units as unit_service
from tenants.dual.access import (
    readable_member_posts,
    readable_member_registrations,
    readable_unit_registrations,
    readable_work_units,
    sees_unit_contact,
)
from tenants.dual.models import MemberPost, MemberPostKind, MemberRegistration, RegistrationStatus, UnitRegistration
from tenants.paging import Page, Window
from tenants.territory.models import Building
from tenants.territory.parties import WorkUnit, WorkUnitKind


@strawberry.enum(name="WorkUnitKind", description="What a work unit is.")
class WorkUnitType(Enum):
    ORGAN = strawberry.enum_value(WorkUnitKind.ORGAN.value, description="机关 a party or government organ.")
    INSTITUTION = strawberry.enum_value(WorkUnitKind.INSTITUTION.value,
                                        description="事业单位 a public institution (school, hospital).")
    ENTERPRISE = strawberry.enum_value(WorkUnitKind.ENTERPRISE.value,
                                       description="企业 a state-owned or private enterprise.")


@strawberry.enum(name="DualRegistrationStatus", description="Where a 双报到 registration is.")
class DualRegistrationStatus(Enum):
    PENDING = strawberry.enum_value(RegistrationStatus.PENDING.value,
                                    description="待审核 submitted, waiting for the community (or street).")
    APPROVED = strawberry.enum_value(RegistrationStatus.APPROVED.value, description="已报到 registered: takes part.")
    REJECTED = strawberry.enum_value(RegistrationStatus.REJECTED.value, description="已驳回 refused, with a reason.")
    MOVED = strawberry.enum_value(RegistrationStatus.MOVED.value,
                                  description="已迁出 replaced by a registration at another community (history).")
    ENDED = strawberry.enum_value(RegistrationStatus.ENDED.value, description="已结束 ended, with a reason.")


@strawberry.enum(name="MemberPostKind", description="A post a registered member holds at their community.")
class MemberPostKindType(Enum):
    ONLINE_BUILDING_HEAD = strawberry.enum_value(MemberPostKind.ONLINE_BUILDING_HEAD.value,
                                                 description="线上楼长 online building head (the building's group).")
    OFFLINE_BUILDING_HEAD = strawberry.enum_value(MemberPostKind.OFFLINE_BUILDING_HEAD.value,
                                                  description="线下楼长 offline building head (on the ground).")
    VOLUNTEER = strawberry.enum_value(MemberPostKind.VOLUNTEER.value,
                                      description="A volunteer role in the community (its role names it).")


def _v(value: Enum | None) -> str | None:
    return None if value is None else str(value.value)


@strawberry.type(name="WorkUnit", description="A work unit 报到单位 (机关、企事业单位) of 双报到.")
class WorkUnitNode(Node):
    readable = staticmethod(readable_work_units)
    kind: WorkUnitType
    code: str = strawberry.field(description="Unique within the tenant.")
    name: str = strawberry.field(description="Its name.")
    party_org: str = strawberry.field(description="Its party organisation 党组织.")
    contact: strawberry.Private[tuple[str, str]]
    is_active: bool = strawberry.field(description="Whether it takes part (inactive: no new registrations).")

    @strawberry.field(description="Who to contact: read by the administration, street and community staff and the "
                      "unit's own contact; empty for anyone else.")
    async def contact_name(self, info: Info) -> str:
        return self.contact[0] if sees_unit_contact(await info.context.access(), self.id) else ""

    @strawberry.field(description="Their phone number: read by the administration, street and community staff and "
                      "the unit's own contact; empty for anyone else.")
    async def contact_phone(self, info: Info) -> str:
        return self.contact[1] if sees_unit_contact(await info.context.access(), self.id) else ""

    @classmethod
    def of(cls, row: WorkUnit) -> WorkUnitNode:
        return from_row(cls, row, contact=(row.contact_name, row.contact_phone))


@strawberry.type(name="UnitRegistration", description="A work unit registered at a community: its resources "
                 "资源清单 and agreement period.")
class UnitRegistrationNode(Node):
    readable = staticmethod(readable_unit_registrations)
    work_unit_id: strawberry.ID = strawberry.field(description="The work unit.")
    community_id: strawberry.ID = strawberry.field(description="The community.")
    street_id: strawberry.ID = strawberry.field(description="The community's street.")
    resources: list[str] = strawberry.field(description="What the unit offers the community 资源清单.")
    agreement_from: date = strawberry.field(description="First day of the agreement.")
    agreement_until: date | None = strawberry.field(description="Last day of the agreement; null: open-ended.")
    status: DualRegistrationStatus
    reason: str = strawberry.field(description="Why it was rejected or ended.")
    created_by: str = strawberry.field(description="Who registered it.")
    created_at: datetime = strawberry.field(description="When (UTC).")
    decided_by: str | None = strawberry.field(description="Who decided it last.")
    decided_at: datetime | None = strawberry.field(description="When (UTC).")
    work_unit_pk: strawberry.Private[int]

    @strawberry.field(description="The work unit.")
    async def work_unit(self, info: Info) -> WorkUnitNode | None:
        row = await DualLoaders.of(info).work_units.load(self.work_unit_pk)
        return None if row is None else WorkUnitNode.of(row)


@strawberry.type(name="MemberRegistration", description="An in-service party member 在职党员 registered at their "
                 "residence community; a move is a new registration that replaces it.")
class MemberRegistrationNode(Node):
    readable = staticmethod(readable_member_registrations)
    person_id: strawberry.ID = strawberry.field(description="The member.")
    community_id: strawberry.ID = strawberry.field(description="The community.")
    street_id: strawberry.ID = strawberry.field(description="The community's street.")
    work_unit_id: strawberry.ID | None = strawberry.field(description="The work unit, when registered in civicgrid.")
    work_unit_name: str = strawberry.field(description="The work unit's name.")
    party_org: str = strawberry.field(description="The party organisation the member belongs to.")
    building_id: strawberry.ID | None = strawberry.field(description="Where the member lives, when known.")
    skills: list[str] = strawberry.field(description="Skill codes (emergency work groups use them).")
    status: DualRegistrationStatus
    reason: str = strawberry.field(description="Why it was rejected or ended.")
    replaces_id: strawberry.ID | None = strawberry.field(description="The registration this one replaces (a move).")
    starts_on: date | None = strawberry.field(description="The first day registered (approved).")
    ends_on: date | None = strawberry.field(description="The last day (moved or ended).")
    self_registered: bool = strawberry.field(description="Whether the member registered themselves.")
    created_by: str = strawberry.field(description="Who submitted it.")
    created_at: datetime = strawberry.field(description="When (UTC).")
    decided_by: str | None = strawberry.field(description="Who decided it.")
    decided_at: datetime | None = strawberry.field(description="When (UTC).")
    person_pk: strawberry.Private[int]
    work_unit_pk: strawberry.Private[int | None]

    @strawberry.field(description="The member's name.")
    async def person_name(self, info: Info) -> str | None:
        return await DualLoaders.of(info).member_names.load(self.person_pk)  # type: ignore[no-any-return]

    @strawberry.field(description="The work unit, when registered in civicgrid.")
    async def work_unit(self, info: Info) -> WorkUnitNode | None:
        if self.work_unit_pk is None:
            return None
        row = await DualLoaders.of(info).work_units.load(self.work_unit_pk)
        return None if row is None else WorkUnitNode.of(row)


@strawberry.type(name="MemberPost", description="A post a registered member holds: a building head or a volunteer "
                 "role 亮身份、作贡献.")
class MemberPostNode(Node):
    readable = staticmethod(readable_member_posts)
    registration_id: strawberry.ID = strawberry.field(description="The registration it is held under.")
    person_id: strawberry.ID = strawberry.field(description="The member.")
    community_id: strawberry.ID = strawberry.field(description="The community.")
    kind: MemberPostKindType
    building_id: strawberry.ID | None = strawberry.field(description="A building-head post's building.")
    role: str = strawberry.field(description="A volunteer post's role.")
    starts_on: date = strawberry.field(description="The first day held.")
    ends_on: date | None = strawberry.field(description="The last day held; null: held now.")
    person_pk: strawberry.Private[int]

    @strawberry.field(description="The member's name.")
    async def person_name(self, info: Info) -> str | None:
        return await DualLoaders.of(info).member_names.load(self.person_pk)  # type: ignore[no-any-return]


@strawberry.type(name="MyDualRegistration", description="The caller's own 双报到 registration and its history.")
class MyDualRegistration:
    current: MemberRegistrationNode | None = strawberry.field(
        description="The approved registration (null: none)."
    )
    pending: MemberRegistrationNode | None = strawberry.field(
        description="A registration waiting for a decision (a first one, or a move)."
    )
    history: list[MemberRegistrationNode] = strawberry.field(description="Every registration, newest first.")


@strawberry.type(name="DualCoverageFigures", description="Building-head coverage figures 楼长覆盖.")
class CoverageFigures:
    buildings: int = strawberry.field(description="Active buildings.")
    with_online_head: int = strawberry.field(description="Buildings with an online member head 线上楼长.")
    with_offline_head: int = strawberry.field(description="Buildings with an offline member head 线下楼长.")
    with_any_head: int = strawberry.field(description="Buildings with either.")
    without_head: int = strawberry.field(description="Buildings with neither.")
    members: int = strawberry.field(description="Members registered (approved).")
    units: int = strawberry.field(description="Work unit registrations (approved).")
    posts_held: int = strawberry.field(description="Member posts held now (building heads and volunteers).")

    @classmethod
    def of(cls, c: coverage_service.Coverage) -> CoverageFigures:
        return cls(buildings=c.buildings, with_online_head=c.with_online_head, with_offline_head=c.with_offline_head,
                   with_any_head=c.with_any_head, without_head=c.without_head, members=c.members, units=c.units,
                   posts_held=c.posts_held)


@strawberry.type(name="DualCoverageRow", description="One community's or street's coverage.")
class CoverageRow:
    id: strawberry.ID = strawberry.field(description="The community's or street's global id (`node(id:)` refetches "
                                         "it).")
    database_id: strawberry.ID = strawberry.field(description="The community's or street's database id, as digits.")
    name: str = strawberry.field(description="The community's or street's name.")
    street_id: strawberry.ID = strawberry.field(description="The street's database id (a street's row: itself).")
    figures: CoverageFigures = strawberry.field(description="Its figures.")

    @classmethod
    def of(cls, kind: str, pk: int, street: int, figures: coverage_service.Coverage,
           names: dict[tuple[str, int], str]) -> CoverageRow:
        return cls(id=strawberry.ID(global_id_of(kind.capitalize(), pk)), database_id=strawberry.ID(str(pk)),
                   name=names.get((kind, pk), ""), street_id=strawberry.ID(str(street)),
                   figures=CoverageFigures.of(figures))


@strawberry.type(name="DualCoverage", description="The building-head coverage report over the caller's area.")
class DualCoverage:
    communities: list[CoverageRow] = strawberry.field(description="Per community, by street then community.")
    streets: list[CoverageRow] = strawberry.field(description="Per street (its communities in scope).")
    total: CoverageFigures = strawberry.field(description="Over everything in the report.")


@strawberry.input(name="WorkUnitInput", description="A work unit's details (updateWorkUnit ignores code and kind).")
class WorkUnitInput:
    code: str | None = strawberry.field(default=None, description="Unique: letters, digits, _ . - (1-64).")
    kind: WorkUnitType | None = strawberry.field(default=None, description="organ, institution or enterprise.")
    name: str | None = strawberry.field(default=None, description="Its name (1-200).")
    party_org: str | None = strawberry.field(default=None, description="Its party organisation (up to 200).")
    contact_name: str | None = strawberry.field(default=None, description="Who to contact (up to 100).")
    contact_phone: str | None = strawberry.field(default=None, description="Their phone number (up to 32).")
    is_active: bool | None = strawberry.field(default=None, description="updateWorkUnit: pause or resume it.")


@strawberry.input(name="RegisterWorkUnitInput", description="A work unit's registration at a community.")
class RegisterWorkUnitInput:
    work_unit_id: strawberry.ID = strawberry.field(description="The work unit.")
    community_id: strawberry.ID = strawberry.field(description="The community.")
    resources: list[str] = strawberry.field(default_factory=list,
                                            description="What it offers 资源清单: 0-50 texts of 1-200 characters.")
    agreement_from: date = strawberry.field(description="First day of the agreement.")
    agreement_until: date | None = strawberry.field(default=None, description="Last day (not before the first); "
                                                    "null: open-ended.")


@strawberry.input(name="RegisterPartyMemberInput", description="An in-service party member's registration.")
class RegisterPartyMemberInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description="Staff: the member; omitted: the "
                                                       "caller registers themselves (a party member).")
    community_id: strawberry.ID = strawberry.field(description="The residence community (a member with a household "
                                                   "registers at its community).")
    work_unit_id: strawberry.ID | None = strawberry.field(default=None, description="The work unit (or name it).")
    work_unit_name: str | None = strawberry.field(default=None, description="A work unit not in civicgrid (1-200).")
    party_org: str = strawberry.field(description="The member's party organisation (1-200).")
    building_id: strawberry.ID | None = strawberry.field(default=None, description="Where they live (default: their "
                                                         "household's building).")
    skills: list[str] | None = strawberry.field(default=None, description="Skill codes (a-z, 0-9, _), at most 20.")


@strawberry.input(name="MemberPostInput", description="A member post to take.")
class MemberPostInput:
    kind: MemberPostKindType = strawberry.field(description="Which post.")
    building_id: strawberry.ID | None = strawberry.field(default=None, description="A building-head post's building "
                                                         "(in the registration's community).")
    role: str | None = strawberry.field(default=None, description="A volunteer post's role (1-100).")


@strawberry.type
class DualRegistrationQuery:
    @strawberry.field(description="Work units 报到单位, by code.")
    async def work_units(
        self, info: Info,
        active: Annotated[bool | None, strawberry.argument(description="Only active (or inactive) units.")] = None,
        kind: Annotated[WorkUnitType | None, strawberry.argument(description="Only units of this kind.")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[WorkUnitNode]:
        caller = await info.context.access()

        async def fetch(window: Window) -> Page[WorkUnit]:
            return await unit_service.list_work_units(access=caller, window=window, active=active, kind=_v(kind))

        return await connection(info, fetch, WorkUnitNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Work units' registrations at communities the caller reads, newest first.")
    async def unit_registrations(
        self, info: Info, status: DualRegistrationStatus | None = None, community_id: strawberry.ID | None = None,
        work_unit_id: strawberry.ID | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[UnitRegistrationNode]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")
        uid = opt_id(work_unit_id, "workUnitId", "WorkUnit")

        async def fetch(window: Window) -> Page[UnitRegistration]:
            return await unit_service.list_unit_registrations(access=caller, window=window, status=_v(status),
                                                              community_id=cid, work_unit_id=uid)

        return await connection(info, fetch, UnitRegistrationNode.of, first=first, after=after, last=last,
                                before=before)

    @strawberry.field(description="Party members' registrations the caller reads (history included), newest first.")
    async def member_registrations(
        self, info: Info, status: DualRegistrationStatus | None = None, community_id: strawberry.ID | None = None,
        work_unit_id: strawberry.ID | None = None, person_id: strawberry.ID | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[MemberRegistrationNode]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")
        uid = opt_id(work_unit_id, "workUnitId", "WorkUnit")
        pid = opt_id(person_id, "personId")

        async def fetch(window: Window) -> Page[MemberRegistration]:
            return await member_service.list_member_registrations(
                access=caller, window=window, status=_v(status), community_id=cid, work_unit_id=uid, person_id=pid
            )

        return await connection(info, fetch, MemberRegistrationNode.of, first=first, after=after, last=last,
                                before=before)

    @strawberry.field(description="The caller's own 双报到 registration: the approved one, a pending one, history.")
    async def my_dual_registration(self, info: Info) -> MyDualRegistration:
        rows = await member_service.my_registrations(access=await info.context.access())
        nodes = [MemberRegistrationNode.of(r) for r in rows]
        by_status = {r.status: n for r, n in zip(rows, nodes, strict=True)}
        return MyDualRegistration(current=by_status.get(RegistrationStatus.APPROVED),
                                  pending=by_status.get(RegistrationStatus.PENDING), history=nodes)

    @strawberry.field(description="Members' posts the caller reads, newest first.")
    async def member_posts(
        self, info: Info,
        held: Annotated[bool | None, strawberry.argument(description="Only posts held now (or ended).")] = None,
        kind: MemberPostKindType | None = None,
        community_id: strawberry.ID | None = None, person_id: strawberry.ID | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[MemberPostNode]:
        caller = await info.context.access()
        cid, pid = opt_id(community_id, "communityId"), opt_id(person_id, "personId")

        async def fetch(window: Window) -> Page[MemberPost]:
            return await post_service.list_posts(access=caller, window=window, held=held, kind=_v(kind),
                                                 community_id=cid, person_id=pid)

        return await connection(info, fetch, MemberPostNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Building-head coverage per community and street over the caller's area 楼长覆盖.")
    async def dual_coverage(
        self, info: Info, street_id: strawberry.ID | None = None, community_id: strawberry.ID | None = None
    ) -> DualCoverage:
        report = await coverage_service.coverage(
            access=await info.context.access(), street_id=opt_id(street_id, "streetId"),
            community_id=opt_id(community_id, "communityId"),
        )
        return DualCoverage(
            communities=[CoverageRow.of("community", c, s, f, report.names) for c, s, f in report.communities],
            streets=[CoverageRow.of("street", s, s, f, report.names) for s, f in report.streets],
            total=CoverageFigures.of(report.total),
        )

    @strawberry.field(description="A community's buildings without a member building head, by id.")
    async def buildings_without_head(
        self, info: Info, community_id: strawberry.ID,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[BuildingType]:
        caller = await info.context.access()
        cid = to_id(community_id, "communityId")

        async def fetch(window: Window) -> Page[Building]:
            return await coverage_service.buildings_without_head(access=caller, community_id=cid, window=window)

        return await connection(info, fetch, lambda b: area_of("building", b), first=first, after=after, last=last,
                                before=before)


@strawberry.type
class DualRegistrationMutation:
    @strawberry.mutation(description="Create a work unit 报到单位.")
    async def create_work_unit(self, info: Info, input: WorkUnitInput,
                               idempotency_key: str | None = None) -> WorkUnitNode:
        row = await unit_service.create_work_unit(
            access=await info.context.access(), actor=info.context.actor, kind=_v(input.kind) or "",
            code=input.code or "", name=input.name or "", party_org=input.party_org or "",
            contact_name=input.contact_name or "", contact_phone=input.contact_phone or "",
            idempotency_key=idempotency_key,
        )
        return WorkUnitNode.of(row)

    @strawberry.mutation(description="Change a work unit's name, party organisation, contact or whether it is active.")
    async def update_work_unit(self, info: Info, id: strawberry.ID, input: WorkUnitInput) -> WorkUnitNode:
        row = await unit_service.update_work_unit(
            access=await info.context.access(), actor=info.context.actor, work_unit_id=to_id(id, "id", "WorkUnit"),
            name=input.name, party_org=input.party_org, contact_name=input.contact_name,
            contact_phone=input.contact_phone, is_active=input.is_active,
        )
        return WorkUnitNode.of(row)

    @strawberry.mutation(description="Register a work unit at a community (pending until the community decides).")
    async def register_work_unit(self, info: Info, input: RegisterWorkUnitInput,
                                 idempotency_key: str | None = None) -> UnitRegistrationNode:
        row = await unit_service.register_work_unit(
            access=await info.context.access(), actor=info.context.actor,
            work_unit_id=to_id(input.work_unit_id, "workUnitId", "WorkUnit"),
            community_id=to_id(input.community_id, "communityId"), resources=list(input.resources),
            agreement_from=input.agreement_from, agreement_until=input.agreement_until,
            idempotency_key=idempotency_key,
        )
        return UnitRegistrationNode.of(row)

    @strawberry.mutation(description="Approve a pending work unit registration.")
    async def approve_unit_registration(self, info: Info, id: strawberry.ID) -> UnitRegistrationNode:
        return await _unit_step(info, id, "approve", "")

    @strawberry.mutation(description="Reject a pending work unit registration, with a reason.")
    async def reject_unit_registration(self, info: Info, id: strawberry.ID, reason: str) -> UnitRegistrationNode:
        return await _unit_step(info, id, "reject", reason)

    @strawberry.mutation(description="End an approved work unit registration, with a reason.")
    async def end_unit_registration(self, info: Info, id: strawberry.ID, reason: str) -> UnitRegistrationNode:
        return await _unit_step(info, id, "end", reason)

    @strawberry.mutation(description="Register an in-service party member at their residence community (pending); "
                         "while they have an approved registration it is a move that replaces it once approved.")
    async def register_party_member(self, info: Info, input: RegisterPartyMemberInput,
                                    idempotency_key: str | None = None) -> MemberRegistrationNode:
        details = member_service.Details(
            party_org=input.party_org, work_unit_id=opt_id(input.work_unit_id, "workUnitId", "WorkUnit"),
            work_unit_name=input.work_unit_name or "", building_id=opt_id(input.building_id, "buildingId"),
            skills=list(input.skills or []),
        )
        row = await member_service.register_member(
            access=await info.context.access(), actor=info.context.actor,
            community_id=to_id(input.community_id, "communityId"), details=details,
            person_id=opt_id(input.person_id, "personId"), idempotency_key=idempotency_key,
        )
        return MemberRegistrationNode.of(row)

    @strawberry.mutation(description="Move an approved member registration to another community: a new pending "
                         "registration with the same work unit, party organisation and skills.")
    async def move_registration(
        self, info: Info, id: strawberry.ID, community_id: strawberry.ID, building_id: strawberry.ID | None = None,
        idempotency_key: str | None = None,
    ) -> MemberRegistrationNode:
        row = await member_service.move_registration(
            access=await info.context.access(), actor=info.context.actor,
            registration_id=to_id(id, "id", "MemberRegistration"), community_id=to_id(community_id, "communityId"),
            building_id=opt_id(building_id, "buildingId"), idempotency_key=idempotency_key,
        )
        return MemberRegistrationNode.of(row)

    @strawberry.mutation(description="Approve a pending member registration (a move: the old one becomes moved).")
    async def approve_member_registration(self, info: Info, id: strawberry.ID) -> MemberRegistrationNode:
        return await _member_step(info, id, "approve", "")

    @strawberry.mutation(description="Reject a pending member registration, with a reason.")
    async def reject_member_registration(self, info: Info, id: strawberry.ID,
                                         reason: str) -> MemberRegistrationNode:
        return await _member_step(info, id, "reject", reason)

    @strawberry.mutation(description="End an approved member registration, with a reason (its posts end).")
    async def end_member_registration(self, info: Info, id: strawberry.ID, reason: str) -> MemberRegistrationNode:
        return await _member_step(info, id, "end", reason)

    @strawberry.mutation(description="Claim a post for yourself under your approved registration.")
    async def claim_member_post(self, info: Info, input: MemberPostInput) -> MemberPostNode:
        row = await post_service.claim(
            access=await info.context.access(), actor=info.context.actor, kind=input.kind.value,
            building_id=opt_id(input.building_id, "buildingId"), role=input.role or "",
        )
        return MemberPostNode.of(row)

    @strawberry.mutation(description="Give a registered member a post (staff of their community).")
    async def assign_member_post(self, info: Info, registration_id: strawberry.ID,
                                 input: MemberPostInput) -> MemberPostNode:
        row = await post_service.assign(
            access=await info.context.access(), actor=info.context.actor,
            registration_id=to_id(registration_id, "registrationId", "MemberRegistration"), kind=input.kind.value,
            building_id=opt_id(input.building_id, "buildingId"), role=input.role or "",
        )
        return MemberPostNode.of(row)

    @strawberry.mutation(description="End a member post today, with a reason (its holder or the community's staff).")
    async def end_member_post(self, info: Info, id: strawberry.ID, reason: str) -> MemberPostNode:
        row = await post_service.end(access=await info.context.access(), actor=info.context.actor,
                                     post_id=to_id(id, "id", "MemberPost"), reason=reason)
        return MemberPostNode.of(row)


async def _unit_step(info: Info, id: strawberry.ID, action: str, reason: str) -> UnitRegistrationNode:
    row = await unit_service.decide_unit_registration(
        access=await info.context.access(), actor=info.context.actor,
        registration_id=to_id(id, "id", "UnitRegistration"), action=action, reason=reason,
    )
    return UnitRegistrationNode.of(row)


async def _member_step(info: Info, id: strawberry.ID, action: str, reason: str) -> MemberRegistrationNode:
    row = await member_service.decide(
        access=await info.context.access(), actor=info.context.actor,
        registration_id=to_id(id, "id", "MemberRegistration"), action=action, reason=reason,
    )
    return MemberRegistrationNode.of(row)
