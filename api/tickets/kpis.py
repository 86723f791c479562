"""Ticket KPIs, a compound's monthly ticket series and the public ranking of units 晾晒."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum

import strawberry

from api.context import Info
from api.ids import to_id
from api.rows import from_row
from tenants.tickets import kpis
from tenants.tickets.kpis import Kpi


@strawberry.enum(name="TicketKpiDimension")
class TicketKpiDimension(Enum):
    UNIT = "unit"
    PROPERTY_COMPANY = "property_company"
    STREET = "street"
    COMMUNITY = "community"
    COMPOUND = "compound"


@strawberry.enum(name="TicketKpiKeyKind", description="What a KPI row is about: a territory node or a unit.")
class TicketKpiKeyKind(Enum):
    STREET = "street"
    COMMUNITY = "community"
    COMPOUND = "compound"
    PROPERTY_COMPANY = "property_company"
    COUNTY_DEPARTMENT = "county_department"
    HOUSING_DEPT = "housing_dept"


@strawberry.input(description="Tenant-local dates: from the first day, up to but not including `to`.")
class TicketKpiPeriodInput:
    from_: date = strawberry.field(name="from")
    to: date


@strawberry.type(
    name="TicketKpi",
    description="Figures of the tickets opened in the period, per key; rates in basis points (10000 = 100%).",
)
class TicketKpiType:
    kind: TicketKpiKeyKind
    id: strawberry.ID
    name: str | None
    received: int = strawberry.field(description="Tickets opened in the period, rejected ones included.")
    rejected: int
    closed: int
    closure_rate_bp: int | None = strawberry.field(description="closed / (received - rejected).")
    resolved: int = strawberry.field(description="Tickets with a current resolution.")
    on_time_rate_bp: int | None = strawberry.field(description="Resolved on time / resolved.")
    rated: int
    satisfaction_rate_bp: int | None = strawberry.field(description="Satisfied / rated, by the latest rating.")
    avg_hours_to_resolve: Decimal | None = strawberry.field(description="Opened to latest resolution, 0.1 h.")
    reopened: int
    escalations: int = strawberry.field(description="Escalations 提级督办 that happened in the period.")

    @classmethod
    def of(cls, k: Kpi) -> TicketKpiType:
        return from_row(cls, k, kind=TicketKpiKeyKind(k.kind))


@strawberry.type(name="TicketMonthCount", description="Tickets opened in one tenant-local month.")
class TicketMonthCountType:
    month: str = strawberry.field(description="YYYY-MM")
    count: int


@strawberry.type(name="RankedUnit", description="One unit's place in the public ranking 晾晒.")
class RankedUnitType:
    rank: int
    unit: TicketKpiType


@strawberry.type
class TicketKpiQuery:
    @strawberry.field(
        description="Ticket KPIs per unit, property company, street, community or compound, "
        "within the caller's data scope."
    )
    async def ticket_kpis(
        self,
        info: Info,
        period: TicketKpiPeriodInput,
        dimension: TicketKpiDimension,
    ) -> list[TicketKpiType]:
        rows = await kpis.ticket_kpis(
            access=await info.context.access(),
            start=period.from_,
            end=period.to,
            dimension=kpis.Dimension(dimension.value),
        )
        return [TicketKpiType.of(k) for k in rows]

    @strawberry.field(description="Tickets opened in a compound per month, fromMonth..toMonth (YYYY-MM) inclusive.")
    async def compound_ticket_series(
        self, info: Info, compound_id: strawberry.ID, from_month: str, to_month: str
    ) -> list[TicketMonthCountType]:
        rows = await kpis.compound_series(
            access=await info.context.access(),
            compound_id=to_id(compound_id, "compoundId"),
            from_month=from_month,
            to_month=to_month,
        )
        return [TicketMonthCountType(month=m.month, count=m.count) for m in rows]

    @strawberry.field(description="The public ranking 晾晒 of every unit of the tenant for the period.")
    async def unit_ranking(self, info: Info, period: TicketKpiPeriodInput) -> list[RankedUnitType]:
        rows = await kpis.unit_ranking(start=period.from_, end=period.to)
        return [RankedUnitType(rank=r.rank, unit=TicketKpiType.of(r.kpi)) for r in rows]
