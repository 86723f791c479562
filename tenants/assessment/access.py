"""Which assessment rows a caller reads (``readable``: a ``QuerySet``, see territory.access).

Interviews 约谈: all for the administration; a firm its own, a unit's staff their unit's, a person their own; a
street officer those of its street, its communities and its street-office units, and those with a firm of its
street — one with a contract in force on a compound of the street on some day of the period the interview is about.
Commendations 表彰挂牌: the current ones (not revoked by a revised list), to whoever may read commendations.
Rating snapshots: the published ones are public within the tenant; drafts are for tenant administrators and the
housing department. Supervisors' findings: those on the compounds the caller reads. Score submissions are further
narrowed to the bodies the caller scores for (``reads.submissions``), which depends on the period's configuration.
"""

from __future__ import annotations

from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.queryset import QuerySet

from tenants.assessment.models import (
    Commendation,
    Interview,
    InterviewSubject,
    RatingSnapshot,
    ScoreSubmission,
    SnapshotStatus,
    SupervisorFinding,
)
from tenants.files.access import attachable_as
from tenants.records import granted
from tenants.tenancy.roles import Role
from tenants.territory.access import Access, readable_compounds
from tenants.territory.models import Community
from tenants.territory.parties import PropertyManager, Unit
from tenants.territory.people import Person

# An interview's period (2026-10 or 2026Q4, as tenants.periods): its first and its last day.
_QUARTER = "strpos(interview.period_key, 'Q') > 0"
_START = (
    f"(CASE WHEN {_QUARTER} THEN make_date(left(interview.period_key, 4)::int,"
    " right(interview.period_key, 1)::int * 3 - 2, 1)"
    " ELSE to_date(interview.period_key || '-01', 'YYYY-MM-DD') END)"
)
_END = f"(({_START} + CASE WHEN {_QUARTER} THEN interval '3 months' ELSE interval '1 month' END)::date - 1)"
# The interview's firm had a contract in force on a compound of these streets on some day of its period.
_OF_STREETS = (
    "EXISTS (SELECT 1 FROM property_contract c JOIN compound k ON k.tenant_id = c.tenant_id AND k.id = c.compound_id"
    " WHERE c.tenant_id = interview.tenant_id AND c.company_id = interview.company_id AND k.street_id IN ({streets})"
    f" AND c.starts_on <= {_END} AND c.ends_on >= {_START})"
)


def reads_drafts(caller: Access) -> bool:
    return caller.reads_whole_tenant


def readable_snapshots(caller: Access) -> QuerySet[RatingSnapshot]:
    if reads_drafts(caller):
        return RatingSnapshot.all()
    return RatingSnapshot.filter(status=SnapshotStatus.PUBLISHED)


def readable_findings(caller: Access) -> QuerySet[SupervisorFinding]:
    if caller.reads_whole_tenant:
        return SupervisorFinding.all()
    return SupervisorFinding.filter(compound_id__in=Subquery(readable_compounds(caller).values("id")))


attachable_as("finding", readable_findings)  # a finding's photos are read by whoever reads the finding


def readable_submissions(caller: Access) -> QuerySet[ScoreSubmission]:
    """Submissions on the compounds the caller reads (the bodies they score for: ``reads.submissions``)."""
    if caller.reads_whole_tenant:
        return ScoreSubmission.all()
    return ScoreSubmission.filter(compound_id__in=Subquery(readable_compounds(caller).values("id")))


def readable_interviews(caller: Access) -> QuerySet[Interview]:
    if caller.reads_whole_tenant:
        return Interview.all()
    q = Q(id__in=[0])
    if Role.PROPERTY_COMPANY in caller.roles and caller.companies:
        q |= Q(subject_kind=InterviewSubject.FIRM, subject_id__in=sorted(caller.companies))
        own = Subquery(PropertyManager.filter(company_id__in=sorted(caller.companies)).values("id"))
        q |= Q(subject_kind=InterviewSubject.MANAGER, subject_id__in=own)  # its own managers' interviews
    if caller.units:
        q |= Q(subject_kind=InterviewSubject.UNIT, subject_id__in=sorted(caller.units))
    if caller.user_id:
        me = Subquery(Person.filter(user_id=caller.user_id).values("id"))
        q |= Q(subject_kind=InterviewSubject.PERSON, subject_id__in=me)
    if streets := sorted(caller.staff_nodes.get("street", frozenset())):
        served = RawSQL(_OF_STREETS.format(streets=", ".join(str(int(i)) for i in streets)))
        q |= Q(id__in=Subquery(Interview.annotate(served=served).filter(served=True).values("id")))
        q |= Q(subject_kind=InterviewSubject.STREET, subject_id__in=streets)
        q |= Q(subject_kind=InterviewSubject.COMMUNITY,
               subject_id__in=Subquery(Community.filter(street_id__in=streets).values("id")))
        offices = Subquery(Unit.filter(street_id__in=streets).values("id"))
        q |= Q(subject_kind=InterviewSubject.UNIT, subject_id__in=offices)
    return Interview.filter(q)


def readable_commendations(caller: Access) -> QuerySet[Commendation]:
    """Every current commendation of the tenant (the red list is published within it) for a caller who may read
    commendations (``assessment.read_commendations``), none for another; one a revised list revoked is kept but not
    read."""
    return granted(caller, "assessment.read_commendations", Commendation.filter(revoked_at__isnull=True))
