"""Which grid scores and pay statements a caller reads (``readable``: a ``QuerySet``, see territory.access).

Grid scores: tenant administrators and the housing department read every grid's; a street officer the grids of
their street, a community worker those of their community, a grid worker their own grid's. Pay statements: tenant
administrators every one; a street officer or community worker those of the grids they look after; a grid worker
their own. The leaderboards are public within the tenant (``tenants.points.leaderboards``).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.permissions import require
from tenants.points.grid_models import GridScore, PayStatement
from tenants.territory.access import Access
from tenants.territory.models import Grid
from tenants.territory.people import Person


def _territory(caller: Access, levels: tuple[str, ...] = ("street", "community", "grid")) -> Q:
    """Rows (with street_id, community_id, grid_id) under the caller's writer posts of these levels."""
    q = Q(id__in=[0])  # nothing; OR-ed with each writer post's level
    for level in levels:
        if ids := caller.staff_nodes.get(level):
            q |= Q(**{f"{level}_id__in": sorted(ids)})  # type: ignore[arg-type]
    return q


def readable_scores(caller: Access) -> QuerySet[GridScore]:
    """The grid scores the caller reads (``grid_scores.read``, checked first)."""
    require(caller, "grid_scores.read")
    if caller.reads_whole_tenant:
        return GridScore.all()
    return GridScore.filter(_territory(caller))


def readable_statements(caller: Access) -> QuerySet[PayStatement]:
    """The pay statements the caller reads (``pay_statements.read``, checked first)."""
    require(caller, "pay_statements.read")
    if caller.whole_tenant:
        return PayStatement.all()
    # A street officer's or community worker's grids (a grid worker reads only their own statement).
    grids = Grid.filter(_territory(caller, ("street", "community"))).values("id")
    q = Q(grid_id__in=Subquery(grids))
    if caller.user_id:
        q |= Q(person_id__in=Subquery(Person.filter(user_id=caller.user_id).values("id")))
    return PayStatement.filter(q)
