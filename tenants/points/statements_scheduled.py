"""The scheduled side of vouchers and partner statements: expire vouchers past their day (hourly, each once), and
compute the partner statements of the month before on ``schedule.monthly_points`` (safe to run twice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenants import clock
from tenants.points import statements
from tenants.points.config import monthly_points_due
from tenants.points.voucher_models import PartnerStatement
from tenants.points.vouchers import expire_vouchers
from tenants.scope import scoped_transaction
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
        due = await monthly_points_due(at)
        if due is None:
            return {"enabled": False}
        month, come = due
        if not come or await PartnerStatement.exists(month=month):
            return {"month": month, "computed": False}
        result = await statements.compute(access=SYSTEM, month=month, actor="system", now=at)
        return {"month": month, "computed": True, "statements": len(result.statement_ids)}
