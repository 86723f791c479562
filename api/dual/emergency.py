"""平急结合 through GraphQL: switch a community (or a street) to emergency mode and stand it down, place people in
work groups by hand, read a community's groups, one's own groups and the emergencies. Resolvers are thin: the
service checks who may do what."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.dual.loaders import DualLoaders
from api.ids import opt_id, to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from tenants.dual import emergency as service
from tenants.dual import emergency_reads as reads
from tenants.dual.emergency_access import readable_assignments, readable_emergencies
from tenants.dual.emergency_models import Emergency, WorkGroupAssignment
from tenants.paging import Page, Window


@strawberry.enum(name="WorkGroupMode", description="A community's mode 平急结合: normal times or an emergency.")
class WorkGroupMode(Enum):
    NORMAL = strawberry.enum_value("normal", description="Normal times: the configured normal groups (4).")
    EMERGENCY = strawberry.enum_value("emergency", description="An emergency: the configured emergency groups (7).")


@strawberry.enum(name="WorkGroupAssignedBy", description="How a person came into a work group.")
class WorkGroupAssignedBy(Enum):
    RULE = strawberry.enum_value("rule", description="By the configured rules (skills, building-head post, staff, "
                                 "the rest).")
    HAND = strawberry.enum_value("hand", description="By staff, by hand (overrides the rules).")


@strawberry.type(name="WorkGroupTitle", description="A work group of a mode: its code and title.")
class WorkGroupTitle:
    code: str = strawberry.field(description="The group's code (assignToWorkGroup takes it).")
    title: str = strawberry.field(description="The group's name, e.g. 排查登记组.")


@strawberry.type(name="Emergency", description="A community's emergency 应急状态, from the switch to the stand-down.")
class EmergencyNode(Node):
    readable = staticmethod(readable_emergencies)
    community_id: strawberry.ID = strawberry.field(description="The community in emergency mode.")
    street_id: strawberry.ID = strawberry.field(description="Its street.")
    reason: str = strawberry.field(description="Why it was switched on.")
    started_at: datetime = strawberry.field(description="When it was switched on (UTC).")
    started_by: str = strawberry.field(description="Who switched it on.")
    ended_at: datetime | None = strawberry.field(description="When it was stood down (UTC); null while active.")
    ended_by: str | None = strawberry.field(description="Who stood it down.")
    end_reason: str = strawberry.field(description="Why it was stood down.")
    active: bool = strawberry.field(description="Whether it is still on.")
    groups: list[WorkGroupTitle] = strawberry.field(description="The emergency groups at the switch.")

    @strawberry.field(description="The community's name.")
    async def community_name(self, info: Info) -> str:
        return (await self._figures(info))[0]

    @strawberry.field(description="People in its groups now (placed by rule or by hand, not removed).")
    async def assigned_count(self, info: Info) -> int:
        return (await self._figures(info))[1]

    @strawberry.field(description="Of those, the people told of their group.")
    async def notified_count(self, info: Info) -> int:
        return (await self._figures(info))[2]

    async def _figures(self, info: Info) -> tuple[str, int, int]:
        return await DualLoaders.of(info).emergency_figures.load(self.id) or ("", 0, 0)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, row: Emergency) -> EmergencyNode:
        return from_row(cls, row, active=row.ended_at is None,
                        groups=[WorkGroupTitle(code=g["code"], title=g["title"]) for g in row.groups])


@strawberry.type(name="WorkGroupAssignment", description="A person placed in a work group of a community.")
class WorkGroupAssignmentNode(Node):
    readable = staticmethod(readable_assignments)
    community_id: strawberry.ID = strawberry.field(description="The community.")
    emergency_id: strawberry.ID | None = strawberry.field(description="The emergency; null: normal times.")
    person_id: strawberry.ID = strawberry.field(description="The person placed.")
    group_code: str = strawberry.field(description="The group's code.")
    how: WorkGroupAssignedBy = strawberry.field(description="By rule or by hand.")
    assigned_at: datetime = strawberry.field(description="When they were placed (UTC).")
    assigned_by: str = strawberry.field(description="Who placed them (the switch's author for rule placements).")
    notified_at: datetime | None = strawberry.field(description="When they were told of this group (inbox).")
    removed_at: datetime | None = strawberry.field(description="When they were taken out by hand.")

    @classmethod
    def of(cls, row: WorkGroupAssignment) -> WorkGroupAssignmentNode:
        return from_row(cls, row, how=WorkGroupAssignedBy(row.how))


@strawberry.type(name="WorkGroupMember", description="A person in a work group.")
class WorkGroupMember:
    person_id: strawberry.ID = strawberry.field(description="The person.")
    name: str = strawberry.field(description="Their name.")
    how: WorkGroupAssignedBy = strawberry.field(description="By rule or by hand.")
    assigned_at: datetime | None = strawberry.field(description="When placed (null: a normal-times rule placement, "
                                                    "worked out when read).")
    notified_at: datetime | None = strawberry.field(description="When they were told of this group (null: not told).")
    phone: str = strawberry.field(description="Their phone, for the staff of the community or its street and tenant "
                                  "admins; empty for anyone else.")


@strawberry.type(name="CommunityWorkGroup", description="One work group of a community with its members.")
class CommunityWorkGroup:
    code: str = strawberry.field(description="The group's code.")
    title: str = strawberry.field(description="The group's name.")
    members: list[WorkGroupMember] = strawberry.field(description="Its members, by person.")


@strawberry.type(name="CommunityWorkGroups", description="A community's work groups now 平急结合.")
class CommunityWorkGroups:
    community_id: strawberry.ID = strawberry.field(description="The community.")
    mode: WorkGroupMode = strawberry.field(description="Normal times or an emergency.")
    emergency: EmergencyNode | None = strawberry.field(description="The active emergency, if any.")
    groups: list[CommunityWorkGroup] = strawberry.field(description="The mode's groups in configured order.")

    @classmethod
    def of(cls, b: reads.Board) -> CommunityWorkGroups:
        return cls(
            community_id=strawberry.ID(str(b.community_id)), mode=WorkGroupMode(b.mode),
            emergency=EmergencyNode.of(b.emergency) if b.emergency else None,
            groups=[CommunityWorkGroup(code=g.code, title=g.title, members=[
                WorkGroupMember(person_id=strawberry.ID(str(m.person_id)), name=m.name,
                                how=WorkGroupAssignedBy(m.how), assigned_at=m.assigned_at, notified_at=m.notified_at,
                                phone=m.phone)
                for m in g.members]) for g in b.groups],
        )


@strawberry.type(name="MyWorkGroup", description="A work group the caller is in.")
class MyWorkGroup:
    community_id: strawberry.ID = strawberry.field(description="The community.")
    mode: WorkGroupMode = strawberry.field(description="Normal times or an emergency.")
    group_code: str = strawberry.field(description="The group's code.")
    group_title: str = strawberry.field(description="The group's name.")
    how: WorkGroupAssignedBy = strawberry.field(description="By rule or by hand.")
    notified_at: datetime | None = strawberry.field(description="When you were told (inbox).")


@strawberry.type(name="EmergencySwitch", description="What a switch or a stand-down did.")
class EmergencySwitch:
    emergencies: list[EmergencyNode] = strawberry.field(description="The emergencies it started (or ended).")
    unchanged_community_ids: list[strawberry.ID] = strawberry.field(
        description="Communities it left as they were: already in emergency mode (switch) or not in it (stand-down)."
    )
    assigned_count: int = strawberry.field(description="People placed in groups (stand-down: people in groups).")
    notified_count: int = strawberry.field(description="People told (once each).")

    @classmethod
    def of(cls, s: service.Switch) -> EmergencySwitch:
        return cls(emergencies=[EmergencyNode.of(e) for e in s.emergencies],
                   unchanged_community_ids=[strawberry.ID(str(i)) for i in s.already],
                   assigned_count=s.assigned, notified_count=s.notified)


@strawberry.input(name="StartEmergencyInput", description="Which community (or every community of which street) "
                  "goes to emergency mode, and why.")
class StartEmergencyInput:
    community_id: strawberry.ID | None = strawberry.field(default=None, description="One community (or streetId).")
    street_id: strawberry.ID | None = strawberry.field(default=None, description="Every community of a street.")
    reason: str = strawberry.field(description="Why (at most 500 characters).")


@strawberry.type
class EmergencyQuery:
    @strawberry.field(description="A community's mode and work groups with their members (staff of the community, "
                      "its street, the administration).")
    async def work_groups(self, info: Info, community_id: strawberry.ID) -> CommunityWorkGroups:
        board = await reads.work_groups(access=await info.context.access(),
                                          community_id=to_id(community_id, "communityId"))
        return CommunityWorkGroups.of(board)

    @strawberry.field(description="The work groups the caller is in, by community: in an active emergency its "
                      "group; in normal times the hand placement, else the group the rules give them.")
    async def my_work_groups(self, info: Info) -> list[MyWorkGroup]:
        return [
            MyWorkGroup(community_id=strawberry.ID(str(m.community_id)), mode=WorkGroupMode(m.mode),
                        group_code=m.group_code, group_title=m.group_title, how=WorkGroupAssignedBy(m.how),
                        notified_at=m.notified_at)
            for m in await reads.my_work_groups(access=await info.context.access())
        ]

    @strawberry.field(description="Emergencies in the caller's communities, newest first (a keyset connection).")
    async def emergencies(
        self, info: Info,
        community_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this community's.")]
        = None,
        street_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this street's "
                                                                      "communities'.")] = None,
        active: Annotated[bool | None, strawberry.argument(description="Only active (true) or ended (false).")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[EmergencyNode]:
        caller = await info.context.access()
        cid, sid = opt_id(community_id, "communityId"), opt_id(street_id, "streetId")

        async def fetch(window: Window) -> Page[Emergency]:
            return await reads.list_emergencies(access=caller, window=window, community_id=cid, street_id=sid,
                                                  active=active)

        return await connection(info, fetch, EmergencyNode.of, first=first, after=after, last=last, before=before)


@strawberry.type
class EmergencyMutation:
    @strawberry.mutation(description="一键启动: switch a community, or every community of a street, to emergency "
                         "mode; its people are placed in the emergency groups and told once.")
    async def start_emergency(self, info: Info, input: StartEmergencyInput) -> EmergencySwitch:
        switch = await service.start(
            access=await info.context.access(), actor=info.context.actor, reason=input.reason,
            community_id=opt_id(input.community_id, "communityId", "Community"),
            street_id=opt_id(input.street_id, "streetId", "Street"),
        )
        return EmergencySwitch.of(switch)

    @strawberry.mutation(description="Stand down: end the emergency of a community (or of every community of a "
                         "street); the normal groups are back and the people placed are told once.")
    async def stand_down(
        self, info: Info, reason: str, community_id: strawberry.ID | None = None,
        street_id: strawberry.ID | None = None,
    ) -> EmergencySwitch:
        switch = await service.stand_down(
            access=await info.context.access(), actor=info.context.actor, reason=reason,
            community_id=opt_id(community_id, "communityId"), street_id=opt_id(street_id, "streetId"),
        )
        return EmergencySwitch.of(switch)

    @strawberry.mutation(description="Put a person in a group of the community's current mode by hand (overrides the "
                         "rules); they are told when their group changes.")
    async def assign_to_work_group(
        self, info: Info, community_id: strawberry.ID, person_id: strawberry.ID,
        group: Annotated[str, strawberry.argument(description="The group's code, in the current mode's set "
                                                  "(workGroups lists them).")],
    ) -> WorkGroupAssignmentNode:
        row = await service.assign(
            access=await info.context.access(), actor=info.context.actor,
            community_id=to_id(community_id, "communityId"), person_id=to_id(person_id, "personId"), group=group,
        )
        return WorkGroupAssignmentNode.of(row)

    @strawberry.mutation(description="Take a person out of their group in the community's current mode (the rules do "
                         "not put them back).")
    async def remove_from_work_group(
        self, info: Info, community_id: strawberry.ID, person_id: strawberry.ID,
    ) -> WorkGroupAssignmentNode:
        row = await service.remove(
            access=await info.context.access(), actor=info.context.actor,
            community_id=to_id(community_id, "communityId"), person_id=to_id(person_id, "personId"),
        )
        return WorkGroupAssignmentNode.of(row)
