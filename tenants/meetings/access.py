"""Which meetings, decisions and compliance flags a caller reads (``readable_*``: a ``QuerySet``).

The administration (tenant admins, the housing department) reads the whole tenant; a street officer the
communities of their street; a community worker their community. A property company reads the meetings held in
the communities of the compounds it serves (it is a party to them) and the decisions it owns; a unit's staff the
decisions their unit owns. Anyone else reads nothing; another tenant's rows are never there (RLS).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.meetings.models import ComplianceFlag, Decision, Meeting, OwnerKind
from tenants.permissions import has_role
from tenants.territory.access import Access
from tenants.territory.models import Compound


def _firm_communities(caller: Access) -> Q | None:
    """The communities of the compounds the caller's companies serve (None: not a firm)."""
    if not caller.company_compounds:
        return None
    ids = Compound.filter(id__in=sorted(caller.company_compounds)).values("community_id")
    return Q(community_id__in=Subquery(ids))


def _area(caller: Access) -> Q | None:
    """A filter on ``community_id`` for what the caller reads; None: the whole tenant."""
    if not has_role(caller, "meetings.read"):
        return Q(id__in=[0])
    q = caller.staff_communities_filter("community_id")
    if q is None:
        return None
    if firm := _firm_communities(caller):
        q |= firm
    return q


def readable_meetings(caller: Access) -> QuerySet[Meeting]:
    q = _area(caller)
    return Meeting.all() if q is None else Meeting.filter(q)


def readable_decisions(caller: Access) -> QuerySet[Decision]:
    """Decisions of the meetings the caller reads, and those their company or unit owns."""
    q = _area(caller)
    if q is None:
        return Decision.all()
    if not has_role(caller, "meetings.read"):
        return Decision.filter(id__in=[0])
    if caller.companies:
        q |= Q(owner_kind=OwnerKind.COMPANY, owner_id__in=sorted(caller.companies))
    if caller.units:
        q |= Q(owner_kind=OwnerKind.UNIT, owner_id__in=sorted(caller.units))
    return Decision.filter(q)


def readable_flags(caller: Access) -> QuerySet[ComplianceFlag]:
    q = caller.staff_communities_filter("community_id") if has_role(caller, "meetings.read") else Q(id__in=[0])
    return ComplianceFlag.all() if q is None else ComplianceFlag.filter(q)
