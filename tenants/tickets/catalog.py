"""The resident's catalogue 诉求目录: what a front end needs to build a report (categories, items, where each
must happen, its clocks, the units the taxonomy names) and how to show the tenant, from the configuration in force."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tenants.config.document import CODED_UNITS, ConfigDocument
from tenants.config.service import effective_config
from tenants.permissions import Caller, require
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy.models import Tenant
from tenants.territory.parties import Unit


class Location(StrEnum):
    """The least specific place that routes an item: a report names it or a node below it (household, building)."""

    COMPOUND = "compound"  # the property company serving the compound acts: without one it cannot be found
    COMMUNITY = "community"  # the community, the street or a department acts: a community (or an address in one)


@dataclass(frozen=True)
class CatalogUnit:
    """A unit the taxonomy names: a type that follows the place, or a registered department by its code."""

    kind: str
    code: str | None
    name: str | None  # the registered unit's name; None for a type that follows the place or a code not on file


@dataclass(frozen=True)
class CatalogItem:
    code: str
    title: str
    category_code: str
    location: Location
    resolve_hours: int
    unit: CatalogUnit
    partners: tuple[CatalogUnit, ...]
    photo_expected: bool = False  # a hint for the form: a photo helps (reportTicket does not refuse a report without)


@dataclass(frozen=True)
class CatalogCategory:
    code: str
    title: str
    items: tuple[CatalogItem, ...]


@dataclass(frozen=True)
class RatingScale:
    lowest: int
    highest: int
    satisfied_from: int


@dataclass(frozen=True)
class Catalog:
    tenant_slug: str
    tenant_name: str
    time_zone: str
    review_hours: int  # 审核派单 within this many hours of the report (when review or dispatch is on)
    partner_accept_hours: int
    steps: dict[str, bool]
    rating_scale: RatingScale
    categories: tuple[CatalogCategory, ...]
    units: tuple[CatalogUnit, ...]  # the registered departments the taxonomy names, by code

    def item(self, code: str) -> CatalogItem | None:
        return next((i for c in self.categories for i in c.items if i.code == code), None)


def location_of(unit_kind: str) -> Location:
    """Where a report of an item must be for the matrix to find its unit (tenants/tickets/matrix.py)."""
    return Location.COMPOUND if unit_kind == "property_company" else Location.COMMUNITY


async def read_catalog(*, caller: Caller) -> Catalog:
    """The catalogue for any role of the tenant (residents included)."""
    require(caller, "tickets.read_catalog")
    return await public_catalog()


async def public_catalog() -> Catalog:
    """The catalogue of the tenant in scope, for its public faces too (Open311's service list needs no token)."""
    async with scoped_transaction():
        effective = await effective_config()
        tenant = await Tenant.get(id=current_tenant_id())
        return await _build(effective.document, tenant)


async def _build(doc: ConfigDocument, tenant: Tenant) -> Catalog:
    t = doc.tickets
    refs: list[tuple[str, str | None]] = [
        pair
        for c in t.taxonomy
        for i in c.items
        for pair in [(i.unit, i.unit_code), *((p.unit, p.unit_code) for p in i.partners)]
    ]
    coded = {(kind, code) for kind, code in refs if kind in CODED_UNITS and code}
    names: dict[tuple[str, str], str] = {}
    if coded:
        rows = await Unit.filter(code__in=sorted({code for _, code in coded}), is_active=True).values_list(
            "kind", "code", "name"
        )
        names = {(str(kind), code): name for kind, code, name in rows}  # type: ignore[misc]

    def unit(kind: str, code: str | None) -> CatalogUnit:
        return CatalogUnit(kind, code, names.get((kind, code)) if code else None)

    categories = tuple(
        CatalogCategory(
            c.code,
            c.title,
            tuple(
                CatalogItem(
                    code=i.code,
                    title=i.title,
                    category_code=c.code,
                    location=location_of(i.unit),
                    resolve_hours=i.sla_hours,
                    unit=unit(i.unit, i.unit_code),
                    partners=tuple(unit(p.unit, p.unit_code) for p in i.partners),
                    photo_expected=i.photo_expected,
                )
                for i in c.items
            ),
        )
        for c in t.taxonomy
    )
    scale = t.satisfaction_scale
    return Catalog(
        tenant_slug=tenant.slug,
        tenant_name=tenant.name,
        time_zone=tenant.timezone,
        review_hours=t.review_dispatch_sla_hours,
        partner_accept_hours=t.partner_accept_hours,
        steps=t.steps.model_dump(),
        rating_scale=RatingScale(scale.lowest, scale.highest, scale.satisfied_from),
        categories=categories,
        units=tuple(unit(kind, code) for kind, code in sorted(coded)),
    )
