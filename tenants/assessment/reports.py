"""Reading ratings: rankings, a company's trend, the red/black list, interviews 约谈 and yearly elimination."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise import connections

from tenants import clock
from tenants.assessment import periods
from tenants.assessment.models import CompanyRating, CompoundRating, Interview, ListMark, RatingSnapshot
from tenants.audit import service as audit
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.scope import current_tenant_id, savepoint
from tenants.territory.parties import PropertyCompany


async def company_rankings(
    snapshot: RatingSnapshot, *, after_rank: int | None, limit: int, mark: ListMark | None = None
) -> list[CompanyRating]:
    qs = CompanyRating.filter(snapshot_id=snapshot.id)
    if mark is not None:
        qs = qs.filter(mark=mark)
    if after_rank is not None:
        qs = qs.filter(rank__gt=after_rank)
    return await qs.order_by("rank").limit(limit)


async def compound_rankings(
    snapshot: RatingSnapshot, *, after_rank: int | None, limit: int, company_id: int | None = None
) -> list[CompoundRating]:
    qs = CompoundRating.filter(snapshot_id=snapshot.id)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    if after_rank is not None:
        qs = qs.filter(rank__gt=after_rank)
    return await qs.order_by("rank").limit(limit)


@dataclass(frozen=True)
class TrendPoint:
    period_key: str
    revision: int
    score: Decimal
    rank: int
    of: int
    mark: str


async def company_trend(company_id: int, *, limit: int = 36) -> list[TrendPoint]:
    """The company's published ratings, the latest revision of each period, oldest first (one query)."""
    rows = await connections.get("default").execute_query_dict(
        """
        WITH latest AS (
            SELECT DISTINCT ON (period_key) id, period_key, revision FROM rating_snapshot
            WHERE tenant_id = $1 AND status = 'published' ORDER BY period_key, revision DESC
        )
        SELECT l.period_key, l.revision, c.score, c.rank, c.mark,
               (SELECT count(*) FROM company_rating x WHERE x.tenant_id = $1 AND x.snapshot_id = l.id) AS of
        FROM latest l JOIN company_rating c ON c.tenant_id = $1 AND c.snapshot_id = l.id AND c.company_id = $2
        ORDER BY l.period_key DESC LIMIT $3
        """,
        [current_tenant_id(), company_id, limit],
    )
    return [
        TrendPoint(r["period_key"], r["revision"], Decimal(r["score"]), r["rank"], r["of"], r["mark"])
        for r in reversed(rows)
    ]


async def record_interview(
    *,
    actor: str,
    company_id: int,
    period_key: str,
    held_on: date,
    attendees: list[str],
    outcome: str,
    follow_up: str = "",
    follow_up_due: date | None = None,
) -> Interview:
    problems = []
    if not outcome.strip() or len(outcome) > 2000:
        problems.append(Problem("outcome", "format", "请填写约谈结果（不超过 2000 字）", "outcome: 1..2000 characters"))
    if len(follow_up) > 2000:
        problems.append(Problem("followUp", "too_long", "整改要求不超过 2000 字", "followUp: at most 2000 characters"))
    if not attendees or any(not a.strip() or len(a) > 100 for a in attendees) or len(attendees) > 50:
        problems.append(Problem("attendees", "format", "请列出参会人员", "list 1..50 attendees"))
    problems += periods.period_problems(period_key, "period")
    if follow_up_due is not None and follow_up_due < held_on:
        problems.append(Problem("followUpDue", "before", "整改期限早于约谈日期", "followUpDue is before heldOn"))
    if problems:
        raise InvalidInput.of(problems)
    async with savepoint():
        if not await PropertyCompany.exists(id=company_id):
            raise NotFound(f"物业企业 {company_id} 不存在", f"company {company_id} does not exist", field="companyId")
        interview = await Interview.create(
            company_id=company_id,
            period_key=period_key,
            held_on=held_on,
            attendees=[a.strip() for a in attendees],
            outcome=outcome.strip(),
            follow_up=follow_up.strip(),
            follow_up_due=follow_up_due,
            recorded_by=actor,
            recorded_at=clock.now(),
        )
        await audit.record(
            actor=actor,
            action="interview.record",
            target_type="interview",
            target_id=interview.id,
            details={"companyId": company_id, "period": period_key},
        )
        return interview


async def interviews(*, company_id: int | None, period_key: str | None) -> list[Interview]:
    qs = Interview.all()
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    if period_key is not None:
        periods.bounds(period_key)
        qs = qs.filter(period_key=period_key)
    return await qs.order_by("-held_on", "-id")


@dataclass(frozen=True)
class Candidate:
    company_id: int
    average_score: Decimal
    periods: int
    black_list_times: int
    reasons: list[str]


async def elimination_candidates(year: int) -> list[Candidate]:
    """末位淘汰: the bottom share (at least 1, by the configuration's percent) of firms by their average published
    rating over the year, plus firms below the score threshold or on the black list the configured times."""
    periods.check_year(year, "year")
    rule = (await effective_config(date(year, 12, 31))).document.assessment.elimination
    if not rule.enabled:
        return []
    rows = await connections.get("default").execute_query_dict(
        """
        WITH latest AS (
            SELECT DISTINCT ON (period_key) id FROM rating_snapshot
            WHERE tenant_id = $1 AND status = 'published' AND period_key LIKE $2
            ORDER BY period_key, revision DESC
        )
        SELECT c.company_id, avg(c.score) AS average, count(*) AS periods,
               count(*) FILTER (WHERE c.mark = 'interviewed') AS black
        FROM company_rating c JOIN latest l ON c.snapshot_id = l.id
        WHERE c.tenant_id = $1
        GROUP BY c.company_id ORDER BY avg(c.score), c.company_id
        """,
        [current_tenant_id(), f"{year}%"],
    )
    if not rows:
        return []
    bottom = max(1, math.ceil(len(rows) * rule.bottom_percent / 100))
    out = []
    for i, r in enumerate(rows):
        average = Decimal(r["average"]).quantize(Decimal("0.01"))
        reasons = []
        if i < bottom:
            reasons.append(f"bottom {rule.bottom_percent}%")
        if rule.below_score and average < rule.below_score:
            reasons.append(f"below {rule.below_score}")
        if rule.black_list_times and r["black"] >= rule.black_list_times:
            reasons.append(f"black list {r['black']} times")
        if reasons:
            out.append(Candidate(r["company_id"], average, r["periods"], r["black"], reasons))
    return out
