"""The scheduled side of 以奖代补: settle the last complete period on the configured day and hour, once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tenants import clock
from tenants.config.service import effective_config
from tenants.scope import scoped_transaction
from tenants.subsidies import service
from tenants.subsidies.models import SettlementStatement
from tenants.tenancy.service import current_zone
from tenants.territory.access import SYSTEM


def last_complete(today: date, cadence: str) -> str:
    """The settlement period that ended most recently before ``today``."""
    if cadence == "yearly":
        return str(today.year - 1)
    quarter = (today.month - 1) // 3 + 1
    return f"{today.year}Q{quarter - 1}" if quarter > 1 else f"{today.year - 1}Q4"


async def hourly(*, now: datetime | None = None) -> dict[str, Any]:
    """Once the tenant-local clock reaches ``schedule.settlement`` (day and hour of the month after the period),
    settle the period unless it has statements already; while its ratings are unpublished, wait (and retry on
    the next tick)."""
    at = now or clock.now()
    async with scoped_transaction():
        zone = await current_zone()
        local = at.astimezone(zone)
        # Whether and how often to settle is the configuration in force at the end of the period (what
        # ``service.run`` applies), not today's: a switch to yearly from January still settles the quarter that
        # ended in December. The cadence comes from the end of the last quarter (a year ends with one too).
        quarter = last_complete(local.date(), "quarterly")
        cadence = (await effective_config(service.bounds(quarter)[1])).document.subsidies.settlement_cadence
        period = last_complete(local.date(), cadence)
        _, end = service.bounds(period)
        settled_under = (await effective_config(end)).document.subsidies
        if not settled_under.enabled:
            return {"enabled": False}
        if settled_under.settlement_cadence != cadence:  # that year was settled quarter by quarter
            return {"period": period, "settled": False}
        first = date(end.year + (end.month == 12), end.month % 12 + 1, 1)
        run = (await effective_config(local.date())).document.schedule.settlement
        due = datetime(first.year, first.month, run.day, run.hour, tzinfo=zone)
        if local < due or await SettlementStatement.exists(period_key=period):
            return {"period": period, "settled": False}
        try:
            result = await service.run(access=SYSTEM, period_key=period, actor="system", now=at)
        except service.RatingsNotPublished as exc:
            return {"period": period, "settled": False, "waiting_for": exc.details.get("missing", [])}
        return {"period": period, "settled": True, "statements": len(result.statement_ids)}
