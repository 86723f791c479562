"""Whose points a caller reads (``readable``: QuerySets, see territory.access): a tenant administrator everyone's;
street officers, community workers and grid workers the people living in what they look after; anyone else (a
resident, a building head, a volunteer) only their own. ``points.read`` is checked first."""

from __future__ import annotations

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from tenants.permissions import require
from tenants.points.models import PointsEntry, PointsLot
from tenants.territory.access import Access, readable_persons
from tenants.territory.people import Person


def readable_people(caller: Access) -> QuerySet[Person]:
    """The people whose points the caller reads."""
    require(caller, "points.read")
    return readable_persons(caller)


def readable(caller: Access) -> QuerySet[PointsEntry]:
    """The points entries the caller reads."""
    if caller.whole_tenant:
        require(caller, "points.read")
        return PointsEntry.all()
    return PointsEntry.filter(person_id__in=Subquery(readable_people(caller).values("id")))


def readable_lots(caller: Access) -> QuerySet[PointsLot]:
    """The lots (what is left to spend, and when it expires) of the people the caller reads."""
    if caller.whole_tenant:
        require(caller, "points.read")
        return PointsLot.all()
    return PointsLot.filter(person_id__in=Subquery(readable_people(caller).values("id")))
