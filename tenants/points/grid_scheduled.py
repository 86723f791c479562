"""The monthly side of grid scores and pay: on ``schedule.monthly_points`` (day and hour, tenant-local), score the
month before and make its pay statements, once (a later tick finds the month scored and does nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenants import clock
from tenants.points import pay
from tenants.points.config import monthly_points_due
from tenants.points.grid_models import GridScore
from tenants.scope import scoped_transaction
from tenants.territory.access import SYSTEM


async def hourly(*, now: datetime | None = None) -> dict[str, Any]:
    """Once the tenant-local clock reaches this month's ``schedule.monthly_points``, compute last month's grid
    scores and pay statements unless they were computed already (safe to run twice: the run itself is idempotent
    and holds the month's lock)."""
    at = now or clock.now()
    async with scoped_transaction():
        due = await monthly_points_due(at)
        if due is None:
            return {"enabled": False}
        month, come = due
        if not come or await GridScore.exists(period_key=month):
            return {"month": month, "computed": False}
        scores, statements = await pay.run_month(access=SYSTEM, month=month, actor="system", now=at)
        return {"month": month, "computed": True, "grids": scores.grids, "statements": len(statements.written)}
