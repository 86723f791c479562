"""The tenant's points configuration in force, and the error every points service raises when it is off."""

from __future__ import annotations

from datetime import date

from tenants.config.document import Points
from tenants.config.service import effective_config
from tenants.errors import NotEnabled


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
