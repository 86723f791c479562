from __future__ import annotations

from datetime import date

import strawberry

from api.compiled import compiled
from api.context import Info
from api.ids import AREAS, NODE_OF, opt_id, to_id
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection, node_fields
from api.territory.loaders import TerritoryLoaders
from api.territory.types import (
    AREA_TYPES,
    AreaLevel,
    AreaType,
    OwnersCommitteeType,
    PersonType,
    PostKind,
    PostTargetType,
    PostType,
    PropertyCompanyType,
    PropertyContractType,
    UnitKind,
    UnitType,
    area_of,
)
from tenants.errors import InvalidInput, Problem
from tenants.territory import parties_service as parties
from tenants.territory import people_service as people
from tenants.territory import reads as territory_reads
from tenants.territory import service as territory
from tenants.territory.models import parent_level
from tenants.territory.parties import UnitKind as _UnitKind
from tenants.territory.people import PostKind as _PostKind
from tenants.territory.reads import AREA_LINKS


@strawberry.input
class CreateAreaInput:
    level: AreaLevel  # type: ignore[valid-type]
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="Required except for streets.")
    code: str
    name: str
    address: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.input
class UpdateAreaInput:
    level: AreaLevel  # type: ignore[valid-type]
    id: strawberry.ID
    code: str | None = None
    name: str | None = None
    address: str | None = None


@strawberry.input
class MoveAreaInput:
    level: AreaLevel  # type: ignore[valid-type]
    id: strawberry.ID
    new_parent_id: strawberry.ID


@strawberry.input
class CreatePropertyCompanyInput:
    credit_code: str
    name: str
    contact_name: str = ""
    contact_phone: str = ""
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.input
class CreatePropertyContractInput:
    company_id: strawberry.ID
    compound_id: strawberry.ID
    starts_on: date
    ends_on: date
    annual_fee_fen: Fen
    reference: str = ""
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.input
class SetOwnersCommitteeInput:
    compound_id: strawberry.ID
    name: str
    term_ends_on: date | None = None


@strawberry.input
class CreateUnitInput:
    kind: UnitKind  # type: ignore[valid-type]
    code: str
    name: str
    street_id: strawberry.ID | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.input
class CreatePersonInput:
    user_id: str
    name: str
    phone: str = ""
    household_id: strawberry.ID | None = None
    is_party_member: bool = False
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.input
class AssignPostInput:
    person_id: strawberry.ID
    kind: PostKind  # type: ignore[valid-type]
    target_type: PostTargetType | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="What the post is on; its id is targetId (none for a tenant administrator)."
    )
    target_kind: str | None = strawberry.field(
        default=None,
        description="What the post is on (street, community, grid, compound, company, unit).",
        deprecation_reason="Use targetType (the PostTargetType enum).",
    )
    target_id: strawberry.ID | None = None
    body_code: str | None = None
    starts_on: date | None = None
    allow_second_grid_worker: bool = False
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


def _target_kind(input: AssignPostInput) -> str | None:
    """targetType, or the deprecated targetKind string; both given must agree."""
    typed = input.target_type.value if input.target_type is not None else None
    if typed is not None and input.target_kind is not None and input.target_kind != typed:
        raise InvalidInput.of(
            [Problem("targetType", "mismatch", "targetType 与 targetKind 不一致", "targetType and targetKind differ")]
        )
    return typed if typed is not None else input.target_kind


@strawberry.type
class TerritoryQuery:
    @strawberry.field(description="One territory node, or null when it is not in your scope.")
    async def area(self, info: Info, level: AreaLevel, id: strawberry.ID) -> AreaType | None:  # type: ignore[valid-type]
        lvl = level.value
        node = await TerritoryLoaders.of(info).area(lvl).load(to_id(id, "id", NODE_OF[lvl]))
        return area_of(lvl, node) if node is not None else None

    @strawberry.field(description="Territory nodes of one level in your scope, by id.")
    async def areas(
        self,
        info: Info,
        level: AreaLevel,  # type: ignore[valid-type]
        parent_id: strawberry.ID | None = None,
        street_id: strawberry.ID | None = None,
        community_id: strawberry.ID | None = None,
        grid_id: strawberry.ID | None = None,
        compound_id: strawberry.ID | None = None,
        search: str | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[AreaType]:
        lvl = level.value
        access = await info.context.access()
        within = {
            k: to_id(v, f"{k}Id")
            for k, v in (
                ("street", street_id),
                ("community", community_id),
                ("grid", grid_id),
                ("compound", compound_id),
            )
            if v is not None
        }
        above = parent_level(lvl)
        pid = opt_id(parent_id, "parentId", NODE_OF[above] if above else AREAS)
        selected = node_fields(info)
        if selected:  # the page with the higher nodes selected, in one statement
            links = set(selected) & set(AREA_LINKS[lvl])
            return await compiled(info, await connection(
                info,
                lambda w: territory_reads.list_areas_with(
                    lvl, access=access, parent_id=pid, within=within, window=w, search=search, links=links
                ),
                lambda row: AREA_TYPES[lvl].of(*row),  # type: ignore[attr-defined]
                first=first, after=after, last=last, before=before,
            ))
        return await connection(
            info,
            lambda w: territory.list_areas(lvl, access=access, parent_id=pid, within=within, window=w, search=search),
            lambda a: area_of(lvl, a),
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="物业企业 on file in this tenant (a property company sees only itself).")
    async def property_companies(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[PropertyCompanyType]:
        access = await info.context.access()
        return await connection(
            info, lambda w: parties.list_companies(access=access, window=w), PropertyCompanyType.of,
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="Contracts on compounds in your scope (a company: its own).")
    async def property_contracts(
        self,
        info: Info,
        compound_id: strawberry.ID | None = None,
        company_id: strawberry.ID | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[PropertyContractType]:
        access = await info.context.access()
        cid, coid = opt_id(compound_id, "compoundId"), opt_id(company_id, "companyId")
        return await connection(
            info, lambda w: parties.list_contracts(access=access, compound_id=cid, company_id=coid, window=w),
            PropertyContractType.of, first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="The owners' committee of a compound in your scope.")
    async def owners_committee(self, info: Info, compound_id: strawberry.ID) -> OwnersCommitteeType | None:
        access = await info.context.access()
        committee = await parties.owners_committee(access=access, compound_id=to_id(compound_id, "compoundId"))
        return OwnersCommitteeType.of(committee) if committee else None

    @strawberry.field(description="Departments and offices of this tenant.")
    async def units(self, info: Info, kind: UnitKind | None = None) -> list[UnitType]:  # type: ignore[valid-type]
        access = await info.context.access()
        rows = await parties.list_units(access=access, kind=_UnitKind(kind.value) if kind else None)
        return [UnitType.of(u) for u in rows]

    @strawberry.field(description="People: tenant admins see all, territory staff the residents of their area.")
    async def persons(
        self, info: Info, user_id: str | None = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None
    ) -> Connection[PersonType]:
        access = await info.context.access()
        return await connection(
            info, lambda w: people.list_persons(access=access, window=w, user_id=user_id), PersonType.of,
            first=first, after=after, last=last, before=before,
        )


@strawberry.type
class TerritoryMutation:
    @strawberry.mutation(description="Create a street, community, grid, compound, building or household.")
    async def create_area(self, info: Info, input: CreateAreaInput) -> AreaType:
        lvl = input.level.value
        extra = {"address": input.address} if lvl == "compound" and input.address is not None else {}
        parent_id = opt_id(input.parent_id, f"{parent_level(lvl)}Id" if parent_level(lvl) else "parentId")
        node = await territory.create_area(
            lvl, **await info.context.acting(), code=input.code, name=input.name, parent_id=parent_id,
            **extra,
            idempotency_key=input.idempotency_key,
        )
        return area_of(lvl, node)

    @strawberry.mutation(description="Rename or re-code a node; its id stays.")
    async def update_area(self, info: Info, input: UpdateAreaInput) -> AreaType:
        lvl = input.level.value
        node = await territory.update_area(
            lvl,
            to_id(input.id, "id", NODE_OF[lvl]),
            **await info.context.acting(),
            code=input.code,
            name=input.name,
            address=input.address,
        )
        return area_of(lvl, node)

    @strawberry.mutation(description="Move a node and its subtree under another parent; ids stay.")
    async def move_area(self, info: Info, input: MoveAreaInput) -> AreaType:
        lvl = input.level.value
        node = await territory.move_area(
            lvl,
            to_id(input.id, "id", NODE_OF[lvl]),
            **await info.context.acting(),
            new_parent_id=to_id(input.new_parent_id, "newParentId", NODE_OF.get(parent_level(lvl) or "", AREAS)),
        )
        return area_of(lvl, node)

    @strawberry.mutation
    async def create_property_company(self, info: Info, input: CreatePropertyCompanyInput) -> PropertyCompanyType:
        company = await parties.create_company(
            **await info.context.acting(),
            credit_code=input.credit_code,
            name=input.name,
            contact_name=input.contact_name,
            contact_phone=input.contact_phone,
            idempotency_key=input.idempotency_key,
        )
        return PropertyCompanyType.of(company)

    @strawberry.mutation
    async def create_property_contract(self, info: Info, input: CreatePropertyContractInput) -> PropertyContractType:
        contract = await parties.create_contract(
            **await info.context.acting(),
            company_id=to_id(input.company_id, "companyId"),
            compound_id=to_id(input.compound_id, "compoundId"),
            starts_on=input.starts_on,
            ends_on=input.ends_on,
            annual_fee_fen=input.annual_fee_fen,
            reference=input.reference,
            idempotency_key=input.idempotency_key,
        )
        return PropertyContractType.of(contract)

    @strawberry.mutation
    async def set_owners_committee(self, info: Info, input: SetOwnersCommitteeInput) -> OwnersCommitteeType:
        committee = await parties.set_owners_committee(
            **await info.context.acting(),
            compound_id=to_id(input.compound_id, "compoundId"),
            name=input.name,
            term_ends_on=input.term_ends_on,
        )
        return OwnersCommitteeType.of(committee)

    @strawberry.mutation
    async def create_unit(self, info: Info, input: CreateUnitInput) -> UnitType:
        unit = await parties.create_unit(
            **await info.context.acting(),
            kind=_UnitKind(input.kind.value),
            code=input.code,
            name=input.name,
            street_id=opt_id(input.street_id, "streetId"),
            idempotency_key=input.idempotency_key,
        )
        return UnitType.of(unit)

    @strawberry.mutation
    async def create_person(self, info: Info, input: CreatePersonInput) -> PersonType:
        person = await people.create_person(
            **await info.context.acting(),
            user_id=input.user_id,
            name=input.name,
            phone=input.phone,
            household_id=opt_id(input.household_id, "householdId"),
            is_party_member=input.is_party_member,
            idempotency_key=input.idempotency_key,
        )
        return PersonType.of(person)

    @strawberry.mutation(description="Give a person a post; their next token carries its role and scope.")
    async def assign_post(self, info: Info, input: AssignPostInput) -> PostType:
        target_kind = _target_kind(input)
        person_id = to_id(input.person_id, "personId")
        target_id = opt_id(input.target_id, "targetId", NODE_OF.get(target_kind or "", tuple(NODE_OF.values())))
        post = await people.assign_post(
            **await info.context.acting(),
            person_id=person_id,
            kind=_PostKind(input.kind.value),
            target_kind=target_kind,
            target_id=target_id,
            body_code=input.body_code,
            starts_on=input.starts_on,
            allow_second_grid_worker=input.allow_second_grid_worker,
            idempotency_key=input.idempotency_key,
        )
        return PostType.of(post)

    @strawberry.mutation(description="Deactivate (active: false) or reactivate a person. Deactivating ends every post "
                         "they hold now and withdraws what their records grant (a resident's, a party member's role) "
                         "from their next request; reactivating restores the latter, posts are assigned anew.")
    async def set_person_active(self, info: Info, id: strawberry.ID, active: bool) -> PersonType:
        person = await people.set_person_active(**await info.context.acting(), person_id=to_id(id, "id", "Person"),
                                                active=active)
        return PersonType.of(person)

    @strawberry.mutation
    async def end_post(self, info: Info, id: strawberry.ID, ends_on: date | None = None) -> PostType:
        post = await people.end_post(
            **await info.context.acting(),
            post_id=to_id(id, "id", "Post"),
            ends_on=ends_on,
        )
        return PostType.of(post)
