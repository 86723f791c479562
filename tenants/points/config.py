"""The tenant's points configuration in force, and the error every points service raises when it is off."""

from __future__ import annotations

from datetime import date, datetime

from tenants import periods
from tenants.config.document import Points
from tenants.config.service import effective_config
from tenants.errors import NotEnabled
from tenants.tenancy.service import current_zone


class PointsNotEnabled(NotEnabled):
    feature = "points"
    feature_zh = "积分"
    feature_en = "points"


async def points_config(on: date | None = None, *, field: str | None = None) -> Points:
    """``[points]`` in force on ``on`` (today by default); ``PointsNotEnabled`` when the tenant switched it off."""
    points = (await effective_config(on)).document.points
    if not points.enabled:
        raise PointsNotEnabled(field=field)
    return points


async def monthly_points_due(at: datetime) -> tuple[str, bool] | None:
    """For the monthly points jobs (grid scores and pay, partner statements): None when the tenant has points off;
    else the month before ``at`` (tenant-local) and whether ``schedule.monthly_points`` of this month has come."""
    zone = await current_zone()
    local = at.astimezone(zone)
    doc = (await effective_config(local.date())).document
    if not doc.points.enabled:
        return None
    run = doc.schedule.monthly_points
    return periods.previous_key(local.date(), "monthly"), local >= datetime(
        local.year, local.month, run.day, run.hour, tzinfo=zone
    )
