from __future__ import annotations

import functools
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from api.context import Info
from api.money import Fen
from api.rows import Node, from_row
from api.territory.loaders import TerritoryLoaders
from tenants.territory import access as territory_access
from tenants.territory.models import LEVEL_NAMES, Area
from tenants.territory.parties import UnitKind as _UnitKind
from tenants.territory.people import PostKind as _PostKind

AreaLevel = strawberry.enum(Enum("AreaLevel", {n.upper(): n for n in LEVEL_NAMES}), name="AreaLevel")
UnitKind = strawberry.enum(Enum("UnitKind", {k.name: k.value for k in _UnitKind}), name="UnitKind")
PostKind = strawberry.enum(Enum("PostKind", {k.name: k.value for k in _PostKind}), name="PostKind")
# What a post is on: a territory level, a property company, a unit or a partner (tenants.territory.people.POST_TARGET).
POST_TARGETS = (*LEVEL_NAMES, "company", "unit", "partner", "work_unit")
PostTargetType = strawberry.enum(
    Enum("PostTargetType", {n.upper(): n for n in POST_TARGETS}),
    name="PostTargetType",
    description="What a post is on: a territory node of a level, a property company, or a unit (a department).",
)


@strawberry.interface(name="Area", description="A territory node. Its id never changes, through renames and moves.")
class AreaType(Node):
    code: str
    name: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    # Higher nodes read with the page (``tenants.territory.reads.list_areas_with``), by level: plain values.
    links: strawberry.Private[dict[str, Any]]

    @classmethod
    def of(cls, row: Any, links: dict[str, Any] | None = None) -> Any:
        return from_row(cls, row, links=links or {})

    def _link(self, info: Info, level: str, area_id: int | None) -> Any:
        """The linked node of ``level``: read with the page, else (an awaitable) through the request's loader."""
        if level in self.links:
            row = self.links[level]
            return None if row is None else AREA_TYPES[level].of(row)
        return _load(info, level, area_id)


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
    pass


@strawberry.type(name="Community", description="社区")
class CommunityType(AreaType):
    street_id: strawberry.Private[int]

    @strawberry.field
    def street(self, info: Info) -> StreetType | None:
        return self._link(info, "street", self.street_id)  # type: ignore[no-any-return]


@strawberry.type(name="Grid", description="网格")
class GridType(AreaType):
    street_id: strawberry.Private[int]
    community_id: strawberry.Private[int]

    @strawberry.field
    def community(self, info: Info) -> CommunityType | None:
        return self._link(info, "community", self.community_id)  # type: ignore[no-any-return]


@strawberry.type(name="Compound", description="小区/楼院")
class CompoundType(AreaType):
    address: str
    street_id: strawberry.Private[int]
    community_id: strawberry.Private[int]
    grid_id: strawberry.Private[int]

    @strawberry.field
    def grid(self, info: Info) -> GridType | None:
        return self._link(info, "grid", self.grid_id)  # type: ignore[no-any-return]

    @strawberry.field
    def community(self, info: Info) -> CommunityType | None:
        return self._link(info, "community", self.community_id)  # type: ignore[no-any-return]

    @strawberry.field
    def street(self, info: Info) -> StreetType | None:
        return self._link(info, "street", self.street_id)  # type: ignore[no-any-return]


@strawberry.type(name="Building", description="楼栋")
class BuildingType(AreaType):
    compound_id: strawberry.Private[int]

    @strawberry.field
    def compound(self, info: Info) -> CompoundType | None:
        return self._link(info, "compound", self.compound_id)  # type: ignore[no-any-return]


@strawberry.type(name="Household", description="户")
class HouseholdType(AreaType):
    building_id: strawberry.Private[int]
    compound_id: strawberry.Private[int]

    @strawberry.field
    def building(self, info: Info) -> BuildingType | None:
        return self._link(info, "building", self.building_id)  # type: ignore[no-any-return]

    @strawberry.field
    def compound(self, info: Info) -> CompoundType | None:
        return self._link(info, "compound", self.compound_id)  # type: ignore[no-any-return]


AREA_TYPES: dict[str, type] = {
    "street": StreetType,
    "community": CommunityType,
    "grid": GridType,
    "compound": CompoundType,
    "building": BuildingType,
    "household": HouseholdType,
}


for _level, _kind in AREA_TYPES.items():
    _kind.readable = staticmethod(functools.partial(territory_access.readable, level=_level))  # type: ignore[attr-defined]


def area_of(level: str, a: Area) -> AreaType:
    return AREA_TYPES[level].of(a)  # type: ignore[attr-defined, no-any-return]


@strawberry.type(name="PropertyCompany", description="物业企业")
class PropertyCompanyType(Node):
    readable = staticmethod(territory_access.readable_companies)
    credit_code: str
    name: str
    contact_name: str
    contact_phone: str
    is_active: bool


@strawberry.type(name="PropertyContract", description="物业服务合同")
class PropertyContractType(Node):
    readable = staticmethod(territory_access.readable_contracts)
    company_id: strawberry.ID
    starts_on: date
    ends_on: date
    annual_fee_fen: Fen = strawberry.field(description="Annual property fee receivable, in fen (分).")
    reference: str
    compound_pk: strawberry.Private[int]

    @strawberry.field
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_pk)


@strawberry.type(name="OwnersCommittee", description="业主委员会")
class OwnersCommitteeType(Node):
    readable = staticmethod(territory_access.readable_committees)
    compound_id: strawberry.ID
    name: str
    term_ends_on: date | None


@strawberry.type(name="Unit", description="Departments and offices tickets can be routed to.")
class UnitType(Node):
    readable = staticmethod(territory_access.readable_units)
    kind: UnitKind  # type: ignore[valid-type]
    code: str
    name: str
    street_id: strawberry.ID | None


@strawberry.type(name="Post")
class PostType(Node):
    readable = staticmethod(territory_access.readable_posts)
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
    ended_at: datetime | None = strawberry.field(
        description="When the post was ended on or before its last day (endPost): it grants nothing from then on.")

    @strawberry.field(description="What the post is on (null: nothing, a tenant administrator's post).")
    def target_type(self) -> PostTargetType | None:  # type: ignore[valid-type]
        return PostTargetType(self.target_kind) if self.target_kind in POST_TARGETS else None


@strawberry.type(name="Person")
class PersonType(Node):
    readable = staticmethod(territory_access.readable_persons)
    user_id: str
    name: str
    phone: str
    is_party_member: bool
    deactivated_at: datetime | None = strawberry.field(
        description="When the person was deactivated (setPersonActive); null while active.")
    household_pk: strawberry.Private[int | None]

    @strawberry.field
    async def household(self, info: Info) -> HouseholdType | None:
        return await _load(info, "household", self.household_pk)

    @strawberry.field(description="The person's posts, ended ones included.")
    async def posts(self, info: Info) -> list[PostType]:
        return [PostType.of(p) for p in await TerritoryLoaders.of(info).posts.load(int(self.id))]

