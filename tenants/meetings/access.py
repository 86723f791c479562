"""Which meetings, decisions and compliance flags a caller reads (``readable_*``: a ``QuerySet``).

The administration (tenant admins, the housing department) reads the whole tenant; a street officer the
communities of their street; a community worker their community. A property company is a party to the meetings
of the compounds it serves: at compound level the meetings of those compounds, at community level the meetings of
their communities; of the decisions it reads only those it owns (never another firm's or a unit's, even of a
meeting it attended). A unit's staff read the decisions their unit owns. Anyone else reads nothing; another
tenant's rows are never there (RLS).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.meetings.models import ComplianceFlag, Decision, Meeting, OwnerKind, TargetKind
from tenants.permissions import has_role
from tenants.territory.access import Access
from tenants.territory.models import Compound

NOTHING = Q(id__in=[0])


def _firm_meetings(caller: Access) -> Q:
    """The meetings the caller's companies are a party to: those of the compounds they serve (compound level) and
    of those compounds' communities (community level)."""
    if not caller.company_compounds:
        return NOTHING
    compounds = sorted(caller.company_compounds)
    communities = Compound.filter(id__in=compounds).values("community_id")
    return (Q(target_kind=TargetKind.COMPOUND, target_id__in=compounds)
            | Q(target_kind=TargetKind.COMMUNITY, community_id__in=Subquery(communities)))


def _owned(caller: Access) -> Q:
    """The decisions the caller's companies or units own."""
    q = NOTHING
    if caller.companies:
        q |= Q(owner_kind=OwnerKind.COMPANY, owner_id__in=sorted(caller.companies))
    if caller.units:
        q |= Q(owner_kind=OwnerKind.UNIT, owner_id__in=sorted(caller.units))
    return q


def readable_meetings(caller: Access) -> QuerySet[Meeting]:
    if not has_role(caller, "meetings.read"):
        return Meeting.filter(NOTHING)
    area = caller.staff_communities_filter("community_id")
    return Meeting.all() if area is None else Meeting.filter(area | _firm_meetings(caller))


def readable_decisions(caller: Access) -> QuerySet[Decision]:
    """Decisions of the caller's area (staff), and those their company or unit owns."""
    if not has_role(caller, "meetings.read"):
        return Decision.filter(NOTHING)
    area = caller.staff_communities_filter("community_id")
    return Decision.all() if area is None else Decision.filter(area | _owned(caller))


def readable_flags(caller: Access) -> QuerySet[ComplianceFlag]:
    q = caller.staff_communities_filter("community_id") if has_role(caller, "meetings.read") else NOTHING
    return ComplianceFlag.all() if q is None else ComplianceFlag.filter(q)
