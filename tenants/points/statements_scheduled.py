"""The scheduled side of vouchers and partner statements: expire vouchers past their day (hourly, each once), and
compute the partner statements of the month before on ``schedule.monthly_points`` (safe to run twice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenants import clock, periods
from tenants.config.service import effective_config
from tenants.points import statements
from tenants.points.voucher_models import PartnerStatement
from tenants.points.vouchers import expire_vouchers
from tenants.scope import scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import SYSTEM


async def expiry(*, now: datetime | None = None) -> dict[str, Any]:
    """Expire the vouchers whose last day has ended: points, reserved money and stock come back."""
    async with scoped_transaction():
        return {"expired": await expire_vouchers(now=now or clock.now())}


async def monthly(*, now: datetime | None = None) -> dict[str, Any]:
    """Once the tenant-local clock reaches ``schedule.monthly_points`` of a month, compute the statements of the
    month before unless it has some already (a re-run is a no-op either way)."""
    at = now or clock.now()
    async with scoped_transaction():
        zone = await current_zone()
        local = at.astimezone(zone)
        doc = (await effective_config(local.date())).document
        if not doc.points.enabled:
            return {"enabled": False}
        month = periods.previous_key(local.date(), "monthly")
        run = doc.schedule.monthly_points
        due = datetime(local.year, local.month, run.day, run.hour, tzinfo=zone)
        if local < due or await PartnerStatement.exists(month=month):
            return {"month": month, "computed": False}
        result = await statements.compute(access=SYSTEM, month=month, actor="system", now=at)
        return {"month": month, "computed": True, "statements": len(result.statement_ids)}
