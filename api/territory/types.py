from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from api.context import Info
from api.money import Fen
from api.territory.loaders import TerritoryLoaders
from tenants.territory.models import LEVEL_NAMES, Area
from tenants.territory.parties import OwnersCommittee, PropertyCompany, PropertyContract, Unit
from tenants.territory.parties import UnitKind as _UnitKind
from tenants.territory.people import Person, Post
from tenants.territory.people import PostKind as _PostKind

AreaLevel = strawberry.enum(Enum("AreaLevel", {n.upper(): n for n in LEVEL_NAMES}), name="AreaLevel")
UnitKind = strawberry.enum(Enum("UnitKind", {k.name: k.value for k in _UnitKind}), name="UnitKind")
PostKind = strawberry.enum(Enum("PostKind", {k.name: k.value for k in _PostKind}), name="PostKind")
# What a post is on: a territory level, a property company or a unit (tenants.territory.people.POST_TARGET).
POST_TARGETS = (*LEVEL_NAMES, "company", "unit")
PostTargetType = strawberry.enum(
    Enum("PostTargetType", {n.upper(): n for n in POST_TARGETS}),
    name="PostTargetType",
    description="What a post is on: a territory node of a level, a property company, or a unit (a department).",
)


@strawberry.interface(name="Area", description="A territory node. Its id never changes, through renames and moves.")
class AreaType:
    id: strawberry.ID
    code: str
    name: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


def _base(a: Area) -> dict:
    return {
        "id": strawberry.ID(str(a.id)),
        "code": a.code,
        "name": a.name,
        "is_active": a.is_active,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


async def load_company(info: Info, company_id: int | None) -> PropertyCompanyType | None:
    """A property company through the request's loader (null: none, or one the caller does not read)."""
    company = await TerritoryLoaders.of(info).companies.load(company_id) if company_id is not None else None
    return PropertyCompanyType.of(company) if company is not None else None


async def _load(info: Info, level: str, area_id: int | None):
    if area_id is None:
        return None
    node = await TerritoryLoaders.of(info).area(level).load(area_id)
    return AREA_TYPES[level].of(node) if node is not None else None


@strawberry.type(name="Street", description="街道")
class StreetType(AreaType):
    @classmethod
    def of(cls, a: Area) -> StreetType:
        return cls(**_base(a))


@strawberry.type(name="Community", description="社区")
class CommunityType(AreaType):
    street_id: strawberry.Private[int]

    @strawberry.field
    async def street(self, info: Info) -> StreetType | None:
        return await _load(info, "street", self.street_id)

    @classmethod
    def of(cls, a: Area) -> CommunityType:
        return cls(**_base(a), street_id=a.street_id)  # type: ignore[attr-defined]


@strawberry.type(name="Grid", description="网格")
class GridType(AreaType):
    street_id: strawberry.Private[int]
    community_id: strawberry.Private[int]

    @strawberry.field
    async def community(self, info: Info) -> CommunityType | None:
        return await _load(info, "community", self.community_id)

    @classmethod
    def of(cls, a: Area) -> GridType:
        return cls(**_base(a), street_id=a.street_id, community_id=a.community_id)  # type: ignore[attr-defined]


@strawberry.type(name="Compound", description="小区/楼院")
class CompoundType(AreaType):
    address: str
    street_id: strawberry.Private[int]
    community_id: strawberry.Private[int]
    grid_id: strawberry.Private[int]

    @strawberry.field
    async def grid(self, info: Info) -> GridType | None:
        return await _load(info, "grid", self.grid_id)

    @strawberry.field
    async def community(self, info: Info) -> CommunityType | None:
        return await _load(info, "community", self.community_id)

    @strawberry.field
    async def street(self, info: Info) -> StreetType | None:
        return await _load(info, "street", self.street_id)

    @classmethod
    def of(cls, a: Area) -> CompoundType:
        return cls(
            **_base(a),
            address=a.address,
            street_id=a.street_id,  # type: ignore[attr-defined]
            community_id=a.community_id,
            grid_id=a.grid_id,
        )  # type: ignore[attr-defined]


@strawberry.type(name="Building", description="楼栋")
class BuildingType(AreaType):
    compound_id: strawberry.Private[int]

    @strawberry.field
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_id)

    @classmethod
    def of(cls, a: Area) -> BuildingType:
        return cls(**_base(a), compound_id=a.compound_id)  # type: ignore[attr-defined]


@strawberry.type(name="Household", description="户")
class HouseholdType(AreaType):
    building_id: strawberry.Private[int]
    compound_id: strawberry.Private[int]

    @strawberry.field
    async def building(self, info: Info) -> BuildingType | None:
        return await _load(info, "building", self.building_id)

    @strawberry.field
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_id)

    @classmethod
    def of(cls, a: Area) -> HouseholdType:
        return cls(**_base(a), building_id=a.building_id, compound_id=a.compound_id)  # type: ignore[attr-defined]


AREA_TYPES: dict[str, type] = {
    "street": StreetType,
    "community": CommunityType,
    "grid": GridType,
    "compound": CompoundType,
    "building": BuildingType,
    "household": HouseholdType,
}


def area_of(level: str, a: Area) -> AreaType:
    return AREA_TYPES[level].of(a)  # type: ignore[attr-defined, no-any-return]


@strawberry.type(name="PropertyCompany", description="物业企业")
class PropertyCompanyType:
    id: strawberry.ID
    credit_code: str
    name: str
    contact_name: str
    contact_phone: str
    is_active: bool

    @classmethod
    def of(cls, c: PropertyCompany) -> PropertyCompanyType:
        return cls(
            id=strawberry.ID(str(c.id)),
            credit_code=c.credit_code,
            name=c.name,
            contact_name=c.contact_name,
            contact_phone=c.contact_phone,
            is_active=c.is_active,
        )


@strawberry.type(name="PropertyContract", description="物业服务合同")
class PropertyContractType:
    id: strawberry.ID
    company_id: strawberry.ID
    starts_on: date
    ends_on: date
    annual_fee_fen: Fen = strawberry.field(description="Annual property fee receivable, in fen (分).")
    reference: str
    compound_pk: strawberry.Private[int]

    @strawberry.field
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_pk)

    @classmethod
    def of(cls, c: PropertyContract) -> PropertyContractType:
        return cls(
            id=strawberry.ID(str(c.id)),
            company_id=strawberry.ID(str(c.company_id)),
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            annual_fee_fen=c.annual_fee_fen,
            reference=c.reference,
            compound_pk=c.compound_id,
        )


@strawberry.type(name="OwnersCommittee", description="业主委员会")
class OwnersCommitteeType:
    id: strawberry.ID
    compound_id: strawberry.ID
    name: str
    term_ends_on: date | None

    @classmethod
    def of(cls, c: OwnersCommittee) -> OwnersCommitteeType:
        return cls(
            id=strawberry.ID(str(c.id)),
            compound_id=strawberry.ID(str(c.compound_id)),
            name=c.name,
            term_ends_on=c.term_ends_on,
        )


@strawberry.type(name="Unit", description="Departments and offices tickets can be routed to.")
class UnitType:
    id: strawberry.ID
    kind: UnitKind  # type: ignore[valid-type]
    code: str
    name: str
    street_id: strawberry.ID | None

    @classmethod
    def of(cls, u: Unit) -> UnitType:
        return cls(
            id=strawberry.ID(str(u.id)),
            kind=UnitKind(u.kind.value),
            code=u.code,
            name=u.name,
            street_id=strawberry.ID(str(u.street_id)) if u.street_id else None,
        )


@strawberry.type(name="Post")
class PostType:
    id: strawberry.ID
    person_id: strawberry.ID
    kind: PostKind  # type: ignore[valid-type]
    target_kind: str | None = strawberry.field(
        description="What the post is on (street, community, grid, compound, company, unit).",
        deprecation_reason="Use targetType (the PostTargetType enum).",
    )
    target_id: strawberry.ID | None
    body_code: str | None
    starts_on: date
    ends_on: date | None

    @strawberry.field(description="What the post is on (null: nothing, a tenant administrator's post).")
    def target_type(self) -> PostTargetType | None:  # type: ignore[valid-type]
        return PostTargetType(self.target_kind) if self.target_kind in POST_TARGETS else None

    @classmethod
    def of(cls, p: Post) -> PostType:
        return cls(
            id=strawberry.ID(str(p.id)),
            person_id=strawberry.ID(str(p.person_id)),
            kind=PostKind(p.kind.value),
            target_kind=p.target_kind,
            target_id=strawberry.ID(str(p.target_id)) if p.target_id is not None else None,
            body_code=p.body_code,
            starts_on=p.starts_on,
            ends_on=p.ends_on,
        )


@strawberry.type(name="Person")
class PersonType:
    id: strawberry.ID
    user_id: str
    name: str
    phone: str
    is_party_member: bool
    household_pk: strawberry.Private[int | None]

    @strawberry.field
    async def household(self, info: Info) -> HouseholdType | None:
        return await _load(info, "household", self.household_pk)

    @strawberry.field(description="The person's posts, ended ones included.")
    async def posts(self, info: Info) -> list[PostType]:
        return [PostType.of(p) for p in await TerritoryLoaders.of(info).posts.load(int(self.id))]

    @classmethod
    def of(cls, p: Person) -> PersonType:
        return cls(
            id=strawberry.ID(str(p.id)),
            user_id=p.user_id,
            name=p.name,
            phone=p.phone,
            is_party_member=p.is_party_member,
            household_pk=p.household_id,
        )
