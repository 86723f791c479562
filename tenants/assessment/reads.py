"""Reading a period's assessment: its round, a compound's score submissions and supervisors' findings, each
through what the caller reads (``tenants.assessment.access``)."""

from __future__ import annotations

from tenants.assessment import rounds
from tenants.assessment.access import readable_findings, readable_snapshots, readable_submissions
from tenants.assessment.models import AssessmentRound, RatingSnapshot, ScoreSubmission, SupervisorFinding
from tenants.territory.access import Access, get_in_scope


async def round_of(period_key: str) -> AssessmentRound | None:
    """A period's round (public within the tenant)."""
    return await AssessmentRound.get_or_none(period_key=period_key)


async def submissions(caller: Access, period_key: str, compound_id: int) -> list[ScoreSubmission]:
    """Every revision for a compound in scope: all bodies for those who read the whole tenant, otherwise only
    the bodies the caller scores for."""
    compound = await get_in_scope("compound", compound_id, caller)
    r = await round_of(period_key)
    if r is None:
        return []
    qs = readable_submissions(caller).filter(round_id=r.id, compound_id=compound.id)
    if not caller.reads_whole_tenant:
        doc, _ = await rounds.period_config(period_key)
        bodies = await rounds.scored_bodies(caller, doc, compound.id)
        if not bodies:
            return []
        qs = qs.filter(body_code__in=sorted(bodies))
    return await qs.order_by("body_code", "revision")


async def findings(caller: Access, compound_id: int) -> list[SupervisorFinding]:
    """Supervisors' findings on a compound in scope, newest first."""
    compound = await get_in_scope("compound", compound_id, caller)
    return await readable_findings(caller).filter(compound_id=compound.id).order_by("-found_at")


async def snapshots(caller: Access, period_key: str) -> list[RatingSnapshot]:
    """A period's rating snapshots (revisions) the caller reads."""
    return await readable_snapshots(caller).filter(period_key=period_key).order_by("revision")
