"""Which assessment rows a caller reads (``readable``: a ``QuerySet``, see territory.access).

Rating snapshots: the published ones are public within the tenant; drafts are for tenant administrators and the
housing department. Supervisors' findings: those on the compounds the caller reads. Score submissions are further
narrowed to the bodies the caller scores for (``reads.submissions``), which depends on the period's configuration.
"""

from __future__ import annotations

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from tenants.assessment.models import RatingSnapshot, ScoreSubmission, SnapshotStatus, SupervisorFinding
from tenants.territory.access import Access, readable_compounds


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


def readable_submissions(caller: Access) -> QuerySet[ScoreSubmission]:
    """Submissions on the compounds the caller reads (the bodies they score for: ``reads.submissions``)."""
    if caller.reads_whole_tenant:
        return ScoreSubmission.all()
    return ScoreSubmission.filter(compound_id__in=Subquery(readable_compounds(caller).values("id")))
