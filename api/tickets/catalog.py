"""``ticketCatalog``: the resident's catalogue 诉求目录 as typed GraphQL objects (tenants/tickets/catalog.py)."""

from __future__ import annotations

from enum import Enum

import strawberry

from api.context import Info
from api.tickets.types import TicketUnitKind
from tenants.tickets import catalog
from tenants.tickets.models import UnitKind

TicketLocation = strawberry.enum(
    Enum("TicketLocation", {x.name: x.value for x in catalog.Location}),
    name="TicketLocation",
    description="The least specific place a report of an item must name (`reportTicket`): COMPOUND: a "
    "`compoundId` (or a `buildingId`/`householdId` in it), since the company serving the compound acts; "
    "COMMUNITY: any node, or an `address` with its `communityId` (a resident's own community by default).",
)


@strawberry.type(description="A unit the taxonomy names: a type that follows the ticket's place (the compound's "
                 "company, its community or street), or a registered department by its code.")
class CatalogUnit:
    kind: TicketUnitKind  # type: ignore[valid-type]
    code: str | None = strawberry.field(description="The department's unit code (e.g. 水务); null: follows the place.")
    name: str | None = strawberry.field(description="The registered unit's name; null when it follows the place or "
                                        "the code is not on file.")

    @classmethod
    def of(cls, u: catalog.CatalogUnit) -> CatalogUnit:
        return cls(kind=TicketUnitKind(UnitKind(u.kind).value), code=u.code, name=u.name)  # type: ignore[misc]


@strawberry.type(description="One kind of request a resident can report (e.g. 楼道堆物).")
class CatalogItem:
    code: str = strawberry.field(description="The `itemCode` of `reportTicket`.")
    title: str = strawberry.field(description="The title in Chinese.")
    category_code: str
    location: TicketLocation = strawberry.field(  # type: ignore[valid-type]
        description="Which place the report must name."
    )
    resolve_hours: int = strawberry.field(description="Resolution SLA: hours from dispatch to resolution.")
    unit: CatalogUnit = strawberry.field(description="Who acts 由谁干.")
    partners: list[CatalogUnit] = strawberry.field(description="Who helps 怎么配合干.")
    photo_expected: bool = strawberry.field(description="Whether the form should ask for a photo (configuration "
                                            "`photo_expected` of the item): a hint only; `reportTicket` accepts a "
                                            "report without photos, since hotline operators enter reports "
                                            "without them.")

    @classmethod
    def of(cls, i: catalog.CatalogItem) -> CatalogItem:
        return cls(
            code=i.code, title=i.title, category_code=i.category_code,
            location=TicketLocation(i.location.value),  # type: ignore[misc]
            resolve_hours=i.resolve_hours, unit=CatalogUnit.of(i.unit),
            partners=[CatalogUnit.of(p) for p in i.partners], photo_expected=i.photo_expected,
        )


@strawberry.type(description="A category of the ticket taxonomy (张家口: 9 categories).")
class CatalogCategory:
    code: str
    title: str
    items: list[CatalogItem]


@strawberry.type(description="The steps of the ticket workflow that are on in this tenant.")
class CatalogSteps:
    review: bool
    dispatch: bool
    accept: bool
    resolve: bool
    rate: bool = strawberry.field(description="Whether the resident rates the result (`rateTicket`).")


@strawberry.type(description="The rating a resident gives a resolved ticket.")
class CatalogRatingScale:
    lowest: int
    highest: int
    satisfied_from: int = strawberry.field(description="The lowest rating that counts as satisfied.")


@strawberry.type(description="How to show the tenant.")
class CatalogDisplay:
    slug: str
    name: str = strawberry.field(description="The tenant's name, e.g. 下花园区.")
    time_zone: str = strawberry.field(description="IANA time zone of the tenant's days and deadlines.")
    rating_scale: CatalogRatingScale


@strawberry.type(description="The resident's catalogue 诉求目录: everything `reportTicket` needs, from the "
                 "configuration in force today.")
class TicketCatalog:
    display: CatalogDisplay
    categories: list[CatalogCategory]
    units: list[CatalogUnit] = strawberry.field(description="The registered departments the taxonomy names by code "
                                                "(as acting unit or partner).")
    review_hours: int = strawberry.field(description="Review and dispatch 审核派单 within this many hours of a "
                                         "report (when review or dispatch is on).")
    partner_accept_hours: int = strawberry.field(description="A partner unit accepts its task within these hours.")
    steps: CatalogSteps

    @classmethod
    def of(cls, c: catalog.Catalog) -> TicketCatalog:
        scale = c.rating_scale
        return cls(
            display=CatalogDisplay(
                slug=c.tenant_slug, name=c.tenant_name, time_zone=c.time_zone,
                rating_scale=CatalogRatingScale(lowest=scale.lowest, highest=scale.highest,
                                                satisfied_from=scale.satisfied_from),
            ),
            categories=[
                CatalogCategory(code=k.code, title=k.title, items=[CatalogItem.of(i) for i in k.items])
                for k in c.categories
            ],
            units=[CatalogUnit.of(u) for u in c.units],
            review_hours=c.review_hours,
            partner_accept_hours=c.partner_accept_hours,
            steps=CatalogSteps(**c.steps),
        )


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="The ticket catalogue of your tenant: categories and items with the place each "
                      "needs and its SLA hours, the units the taxonomy names, display settings. Every role of the "
                      "tenant, residents included (`tickets.read_catalog`).")
    async def ticket_catalog(self, info: Info) -> TicketCatalog:
        return TicketCatalog.of(await catalog.read_catalog(caller=await info.context.access()))
