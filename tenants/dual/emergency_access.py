"""Which emergencies and work-group assignments a caller reads (``readable_*``: a ``QuerySet``, see
territory.access).

The administration (tenant admins, the housing department) reads every community's; a street officer the
communities of their street; a community worker their community. A person reads their own assignments
(``own_assignments``: ``myWorkGroups``); anyone else nothing. Another tenant's rows are never there (RLS).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.dual.emergency_models import Emergency, WorkGroupAssignment
from tenants.territory.access import Access
from tenants.territory.models import Community
from tenants.territory.people import Person


def _area(caller: Access, field: str = "community_id") -> Q | None:
    """The caller's communities as a filter on ``field`` (None: the whole tenant; nothing for non-staff)."""
    return caller.staff_communities_filter(field)


def readable_communities(caller: Access) -> QuerySet[Community]:
    """The communities whose work groups the caller reads and (with ``dual.emergency.assign``) staffs."""
    q = _area(caller, "id")
    return Community.all() if q is None else Community.filter(q)


def readable_emergencies(caller: Access) -> QuerySet[Emergency]:
    q = _area(caller)
    return Emergency.all() if q is None else Emergency.filter(q)


def readable_assignments(caller: Access) -> QuerySet[WorkGroupAssignment]:
    """Assignments in the caller's communities, and their own."""
    q = _area(caller)
    if q is None:
        return WorkGroupAssignment.all()
    return WorkGroupAssignment.filter(q | Q(person_id__in=Subquery(own_people(caller).values("id"))))


def own_people(caller: Access) -> QuerySet[Person]:
    return Person.filter(user_id=caller.user_id or "", deactivated_at=None)


def own_assignments(caller: Access) -> QuerySet[WorkGroupAssignment]:
    """The caller's own assignments (any role: a person is told of their group and reads it)."""
    return WorkGroupAssignment.filter(person_id__in=Subquery(own_people(caller).values("id")), removed_at=None)
