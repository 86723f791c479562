"""Reading a period's assessment: its round, a compound's score submissions and supervisors' findings, each
through what the caller reads (``tenants.assessment.access``)."""

from __future__ import annotations

from typing import Any

from tenants.assessment import rounds
from tenants.assessment.access import readable_findings, readable_snapshots, readable_submissions
from tenants.assessment.models import (
    AssessmentRound,
    CompanyRating,
    CompoundRating,
    ListMark,
    RatingSnapshot,
    ScoreSubmission,
    SupervisorFinding,
)
from tenants.assessment.reports import BY_RANK
from tenants.paging import Link, Page, Window, page_with
from tenants.territory.access import Access, get_in_scope, readable, readable_companies
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyCompany


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


async def submissions_by_id(caller: Access, ids: list[int]) -> dict[int, ScoreSubmission]:
    """The sheets among ``ids`` the caller reads, by id: as ``submissions`` lists them (for a caller who does not
    read the whole tenant, only those of the bodies they score for on that compound in that period)."""
    rows = await readable_submissions(caller).filter(id__in=ids)
    if caller.reads_whole_tenant or not rows:
        return {s.id: s for s in rows}
    periods = dict(await AssessmentRound.filter(id__in={s.round_id for s in rows}).values_list("id", "period_key"))
    bodies: dict[tuple[int, int], set[str]] = {}
    for key in {(s.round_id, s.compound_id) for s in rows}:  # one per period and compound asked for
        doc, _ = await rounds.period_config(periods[key[0]])  # type: ignore[index]
        bodies[key] = await rounds.scored_bodies(caller, doc, key[1])
    return {s.id: s for s in rows if s.body_code in bodies[(s.round_id, s.compound_id)]}


async def findings(caller: Access, compound_id: int) -> list[SupervisorFinding]:
    """Supervisors' findings on a compound in scope, newest first."""
    compound = await get_in_scope("compound", compound_id, caller)
    return await readable_findings(caller).filter(compound_id=compound.id).order_by("-found_at")


async def snapshots(caller: Access, period_key: str) -> list[RatingSnapshot]:
    """A period's rating snapshots (revisions) the caller reads."""
    return await readable_snapshots(caller).filter(period_key=period_key).order_by("revision")


async def company_rankings_with(
    caller: Access, snapshot: RatingSnapshot, *, window: Window, mark: ListMark | None = None, company: bool
) -> Page[tuple[CompanyRating, dict[str, Any]]]:
    """``reports.company_rankings`` with each rating's company (as the caller reads it) in the same statement."""
    qs = CompanyRating.filter(snapshot_id=snapshot.id)
    links = {"company": Link(PropertyCompany, "x.id = p.company_id", readable_companies(caller))} if company else {}
    return await page_with(qs if mark is None else qs.filter(mark=mark), BY_RANK, window, links)


async def compound_rankings_with(
    caller: Access, snapshot: RatingSnapshot, *, window: Window, company_id: int | None = None, compound: bool
) -> Page[tuple[CompoundRating, dict[str, Any]]]:
    """``reports.compound_rankings`` with each rating's compound (as the caller reads it) in the same statement."""
    qs = CompoundRating.filter(snapshot_id=snapshot.id)
    links = {"compound": Link(Compound, "x.id = p.compound_id", readable(caller, "compound"))} if compound else {}
    return await page_with(qs if company_id is None else qs.filter(company_id=company_id), BY_RANK, window, links)
