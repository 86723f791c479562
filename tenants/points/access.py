"""Whose points a caller reads (``readable``: QuerySets, see territory.access): a tenant administrator everyone's;
street officers, community workers and grid workers the people living in what they look after and the people
holding (or having held) an earning post there (a building head, a volunteer: whom they may award); anyone else (a
resident, a building head, a volunteer) only their own. ``points.read`` is checked first."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.permissions import require
from tenants.points.models import PointsEntry, PointsLot
from tenants.territory.access import Access, readable_persons
from tenants.territory.models import MODEL_BY_LEVEL
from tenants.territory.people import Person, Post

EARNING_POSTS = ["building_head", "unit_head", "volunteer", "steward", "grid_worker"]
POST_LEVELS = ("street", "community", "grid", "compound", "building", "household")


def readable_people(caller: Access) -> QuerySet[Person]:
    """The people whose points the caller reads."""
    require(caller, "points.read")
    residents = readable_persons(caller)
    if caller.whole_tenant or not caller.staff_nodes:
        return residents
    posted = Q(id__in=[0])
    for level in POST_LEVELS:
        q = caller.staff_filter(level)
        assert q is not None  # only a tenant admin's is None
        posted |= Q(target_kind=level, target_id__in=Subquery(MODEL_BY_LEVEL[level].filter(q).values("id")))
    posts = Post.filter(posted, kind__in=EARNING_POSTS).values("person_id")
    own = Q(user_id=caller.user_id) if caller.user_id else Q(id__in=[0])  # staff living outside their area
    return Person.filter(Q(id__in=Subquery(residents.values("id"))) | Q(id__in=Subquery(posts)) | own)


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
