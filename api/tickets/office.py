"""The efficiency office's list 作风效能办, in GraphQL."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.rows import from_row
from api.tickets.types import TicketUnitKind
from tenants import clock
from tenants.tickets import scheduled as reminders


@strawberry.type(name="EfficiencyCase", description="A unit handed to the efficiency office 作风效能办; its record.")
class EfficiencyCaseType:
    unit_kind: TicketUnitKind  # type: ignore[valid-type]
    unit_id: strawberry.ID
    unit_name: str
    period: str
    escalations_at_hand_over: int
    escalations_in_period: int
    open_tickets: int
    overdue_tickets: int
    handed_at: datetime

    @classmethod
    def of(cls, r: reminders.OfficeRecord) -> EfficiencyCaseType:
        c = r.case
        return from_row(
            cls,
            r,
            unit_kind=TicketUnitKind(c.unit_kind.value),
            unit_id=strawberry.ID(str(c.unit_id)),
            period=c.period,
            escalations_at_hand_over=c.escalations,
            handed_at=c.handed_at,
        )


@strawberry.type
class OfficeQuery:
    @strawberry.field(
        description="Units handed to the efficiency office, in a period (YYYY-MM) or all, with their record "
        "(tenant administrators and the office's staff)."
    )
    async def efficiency_office_list(self, info: Info, period: str | None = None) -> list[EfficiencyCaseType]:
        records = await reminders.office_list(access=await info.context.access(), period=period, now=clock.now())
        return [EfficiencyCaseType.of(r) for r in records]
