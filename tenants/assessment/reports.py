"""Reading ratings: rankings, a company's trend, the red/black list and yearly elimination (interviews 约谈:
``interviews.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from tortoise import connections

from tenants.assessment import managers
from tenants.assessment.models import CompanyRating, CompoundRating, ListMark, RatingSnapshot
from tenants.config.service import effective_config
from tenants.paging import Order, Page, Window, page
from tenants.periods import check_year
from tenants.permissions import require
from tenants.scope import current_tenant_id
from tenants.territory.access import Access
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyCompany

BY_RANK = Order(("rank",), (int,))  # ranks are 1..n within a snapshot, no ties


async def company_rankings(
    snapshot: RatingSnapshot, *, window: Window, mark: ListMark | None = None
) -> Page[CompanyRating]:
    """A window of a snapshot's company ratings by rank."""
    qs = CompanyRating.filter(snapshot_id=snapshot.id)
    return await page(qs if mark is None else qs.filter(mark=mark), BY_RANK, window)


async def compound_rankings(
    snapshot: RatingSnapshot, *, window: Window, company_id: int | None = None
) -> Page[CompoundRating]:
    """A window of a snapshot's compound ratings by rank."""
    qs = CompoundRating.filter(snapshot_id=snapshot.id)
    return await page(qs if company_id is None else qs.filter(company_id=company_id), BY_RANK, window)


async def listed(snapshot: RatingSnapshot) -> list[CompanyRating]:
    """Firms on the red/black list (commended or to be interviewed), in rank order."""
    return await CompanyRating.filter(snapshot_id=snapshot.id).exclude(mark=ListMark.NONE).order_by("rank")


@dataclass
class SnapshotSheet:
    """A snapshot's rows for the county office's export, with the firms and compounds they name."""

    companies: list[CompanyRating]
    compounds: list[CompoundRating]
    firms: dict[int, PropertyCompany]
    places: dict[int, Compound]


async def snapshot_sheet(snapshot: RatingSnapshot) -> SnapshotSheet:
    """Every company and compound rating of a snapshot by rank, in four set-based queries."""
    companies = await CompanyRating.filter(snapshot_id=snapshot.id).order_by("rank")
    compounds = await CompoundRating.filter(snapshot_id=snapshot.id).order_by("rank")
    firms = {c.id: c for c in await PropertyCompany.filter(id__in=[r.company_id for r in companies])}
    places = {c.id: c for c in await Compound.filter(id__in=[r.compound_id for r in compounds])}
    return SnapshotSheet(companies, compounds, firms, places)


HELD_OFF = ("tie_all_off", "tie_both_lists", "unscored")


async def held_off(snapshot: RatingSnapshot) -> list[CompanyRating]:
    """Firms the list rules kept off the red/black list (a tie at a boundary, no score sheet), in rank order."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT id FROM company_rating WHERE tenant_id = $1 AND snapshot_id = $2 AND mark = 'none'"
        " AND breakdown #>> '{lists,red_black,reason}' = ANY($3::text[])",
        [current_tenant_id(), snapshot.id, list(HELD_OFF)],
    )
    return await CompanyRating.filter(id__in=[r["id"] for r in rows]).order_by("rank")


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


@dataclass(frozen=True)
class Candidate:
    company_id: int  # the firm, or a manager's firm
    average_score: Decimal  # the exact average shown to the hundredth, half up
    periods: int  # the periods in which they were scored (the average's)
    black_list_times: int
    reasons: list[str]
    manager_id: int | None = None  # target "manager": the property manager 物业经理


@dataclass(frozen=True)
class Unscored:
    """A firm or manager the year's ratings rank but no body scored in any period: outside the elimination pool."""

    company_id: int
    black_list_times: int
    manager_id: int | None = None


TIE_AT_CUT = "tie_at_cut"

# Firms: per firm, the total and count of the scores of the periods in which it was scored (a body submitted a
# sheet for one of its compounds, as the ratings run decides ``unscored``), and its black-list periods. The
# snapshots and the scored firms are each computed once (MATERIALIZED: robust on tables without statistics).
FIRM_YEAR = f"""
WITH latest AS MATERIALIZED (
    SELECT DISTINCT ON (period_key) id FROM rating_snapshot
    WHERE tenant_id = $1 AND status = 'published' AND period_key LIKE $2
    ORDER BY period_key, revision DESC
), scored AS MATERIALIZED (
    SELECT DISTINCT snapshot_id, company_id FROM compound_rating
    WHERE tenant_id = $1 AND snapshot_id = ANY(ARRAY(SELECT id FROM latest)) AND {managers.SUBMITTED}
)
SELECT c.company_id AS id, c.company_id,
       coalesce(sum(c.score) FILTER (WHERE s.company_id IS NOT NULL), 0) AS total,
       count(s.company_id) AS periods, count(*) FILTER (WHERE c.mark = 'interviewed') AS black
FROM company_rating c
LEFT JOIN scored s ON s.snapshot_id = c.snapshot_id AND s.company_id = c.company_id
WHERE c.tenant_id = $1 AND c.snapshot_id = ANY(ARRAY(SELECT id FROM latest))
GROUP BY c.company_id
"""


def half_up(value: Fraction) -> Decimal:
    """A non-negative exact value to the hundredth, half up."""
    return (Decimal(math.floor(value * 100 + Fraction(1, 2))) / 100).quantize(Decimal("0.01"))


async def _year_rows(year: int, target: str) -> list[dict]:
    if target == "manager":
        # Managers by the average of their period ratings (``managers.py``); black list: the periods in which a
        # firm whose compound they managed was on it.
        return await managers.yearly_rows(year)
    return await connections.get("default").execute_query_dict(FIRM_YEAR, [current_tenant_id(), f"{year}%"])


async def elimination(*, access: Access, year: int) -> tuple[list[Candidate], list[Unscored]]:
    """末位淘汰 of a year: the candidates and, apart, those no body scored (see ``elimination_candidates``)."""
    require(access, "assessment.read_drafts")
    check_year(year, "year")
    rule = (await effective_config(date(year, 12, 31))).document.assessment.elimination
    if not rule.enabled:
        return [], []
    rows = await _year_rows(year, rule.target)
    manager = rule.target == "manager"
    unscored = sorted(
        (Unscored(r["company_id"], r["black"], r["id"] if manager else None) for r in rows if not r["periods"]),
        key=lambda u: (u.company_id, u.manager_id or 0),
    )
    # The pool: those scored in at least one period, by their exact average (no rounding before comparing).
    pool = sorted(
        ((Fraction(Decimal(r["total"])) / r["periods"], r) for r in rows if r["periods"]),
        key=lambda p: (p[0], p[1]["id"]),
    )
    # A share, at least one; 0 percent: no share, only the thresholds ("eliminate those below standard").
    bottom = max(1, -(-len(pool) * rule.bottom_percent // 100)) if rule.bottom_percent and pool else 0
    cut = pool[bottom - 1][0] if bottom else None
    # Everyone tied with the last one in the share is in (a candidate list is for a human decision: naming one
    # more is safe, leaving one out by database id is not); the whole tied run is then marked tie_at_cut.
    tied = cut is not None and bottom < len(pool) and pool[bottom][0] == cut
    below = Fraction(rule.below_score)
    out = []
    for average, r in pool:
        reasons = []
        if cut is not None and average <= cut:
            reasons.append(TIE_AT_CUT if tied and average == cut else f"bottom {rule.bottom_percent}%")
        if rule.below_score and average < below:
            reasons.append(f"below {rule.below_score}")
        if rule.black_list_times and r["black"] >= rule.black_list_times:
            reasons.append(f"black list {r['black']} times")
        if reasons:
            out.append(Candidate(r["company_id"], half_up(average), r["periods"], r["black"], reasons,
                                 r["id"] if manager else None))
    return out, unscored


async def elimination_candidates(*, access: Access, year: int) -> list[Candidate]:
    """末位淘汰: the bottom share (the ceiling of the configuration's percent, at least 1; none at 0 percent) of
    firms, or of property managers when ``elimination.target = "manager"``, by their exact average published rating
    over the periods of the year in which they were scored, everyone tied at the cut included (``tie_at_cut``),
    plus those below the score threshold or on the black list the configured times. Those no body scored in the
    year are not in the pool (``elimination_unscored``). Lowest average first."""
    return (await elimination(access=access, year=year))[0]


async def elimination_unscored(*, access: Access, year: int) -> list[Unscored]:
    """The firms (or managers) the year's ratings name that no body scored in any period: never candidates."""
    return (await elimination(access=access, year=year))[1]
