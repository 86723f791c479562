"""Reading ratings: rankings, a company's trend, the red/black list and yearly elimination (interviews 约谈:
``interviews.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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
    average_score: Decimal
    periods: int
    black_list_times: int
    reasons: list[str]
    manager_id: int | None = None  # target "manager": the property manager 物业经理


async def elimination_candidates(*, access: Access, year: int) -> list[Candidate]:
    """末位淘汰: the bottom share (the ceiling of the configuration's percent, at least 1; none at 0 percent) of
    firms, or of property managers when ``elimination.target = "manager"``, by their average published rating over
    the year, plus those below the score threshold or on the black list the configured times."""
    require(access, "assessment.read_drafts")
    check_year(year, "year")
    rule = (await effective_config(date(year, 12, 31))).document.assessment.elimination
    if not rule.enabled:
        return []
    if rule.target == "manager":
        # Managers by the average of their period ratings (``managers.py``); black list: the periods in which a
        # firm whose compound they managed was on it.
        rows = await managers.yearly_rows(year)
    else:
        rows = await connections.get("default").execute_query_dict(
            """
            WITH latest AS (
                SELECT DISTINCT ON (period_key) id FROM rating_snapshot
                WHERE tenant_id = $1 AND status = 'published' AND period_key LIKE $2
                ORDER BY period_key, revision DESC
            )
            SELECT c.company_id AS id, c.company_id, avg(c.score) AS average, count(*) AS periods,
                   count(*) FILTER (WHERE c.mark = 'interviewed') AS black
            FROM company_rating c JOIN latest l ON c.snapshot_id = l.id
            WHERE c.tenant_id = $1
            GROUP BY c.company_id ORDER BY avg(c.score), c.company_id
            """,
            [current_tenant_id(), f"{year}%"],
        )
    if not rows:
        return []
    # A share, at least one; 0 percent: no share, only the thresholds ("eliminate those below standard").
    bottom = max(1, -(-len(rows) * rule.bottom_percent // 100)) if rule.bottom_percent else 0  # exact ceiling
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
            manager = r["id"] if rule.target == "manager" else None
            out.append(Candidate(r["company_id"], average, r["periods"], r["black"], reasons, manager))
    return out
