"""Property managers' ratings 物业经理评级, derived from their compounds' scores like their firms'.

A compound's manager on a day is the manager named on the compound's contract that day (``ContractManager``). A
manager's score for a period is the mean of the scores of the compounds they managed in it, each weighted by the
days they managed it within the period (a manager replaced mid-month counts for the days they served) and, under
``company_combination = "fee_receivable"``, also by the contract's yearly fee (all fees 0: by days alone), as the
firm's score weighs its compounds. Exact hundredths, half up. Nothing is stored: ratings are read from the
published compound ratings and the history, so a late correction of the history shows at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise import connections

from tenants import periods
from tenants.assessment.ratings import snapshot_for
from tenants.config.service import effective_config
from tenants.scope import current_tenant_id
from tenants.territory.access import Access, readable_managers
from tenants.territory.parties import PropertyManager

# One row per (snapshot, manager): the days-weighted (and fee-weighted) mean of the compound scores, how many
# compounds and manager-days it covers, and whether a firm of theirs was on the black list in that snapshot.
# The snapshots come as arrays (no statistics needed): each aggregate is computed once in a MATERIALIZED CTE.
PERIOD_SCORES = """
WITH snaps AS MATERIALIZED (
    SELECT * FROM unnest($2::bigint[], $3::date[], $4::date[]) AS s (snapshot_id, starts_on, ends_on)
), spans AS MATERIALIZED (
    SELECT s.snapshot_id, cm.manager_id, cr.compound_id, cr.company_id, cr.score,
           c.annual_fee_fen::numeric AS fee,
           (LEAST(COALESCE(cm.ends_on, c.ends_on), c.ends_on, s.ends_on)
            - GREATEST(cm.starts_on, c.starts_on, s.starts_on) + 1)::numeric AS days
    FROM snaps s
    JOIN compound_rating cr ON cr.tenant_id = $1 AND cr.snapshot_id = s.snapshot_id
    JOIN property_contract c ON c.tenant_id = $1 AND c.compound_id = cr.compound_id
         AND c.company_id = cr.company_id AND c.starts_on <= s.ends_on AND c.ends_on >= s.starts_on
    JOIN contract_manager cm ON cm.tenant_id = $1 AND cm.contract_id = c.id
         AND cm.starts_on <= LEAST(c.ends_on, s.ends_on)
         AND COALESCE(cm.ends_on, c.ends_on) >= GREATEST(c.starts_on, s.starts_on)
), black AS MATERIALIZED (
    SELECT r.snapshot_id, r.company_id FROM company_rating r
    WHERE r.tenant_id = $1 AND r.snapshot_id = ANY($2::bigint[]) AND r.mark = 'interviewed'
)
SELECT p.snapshot_id, p.manager_id,
       CASE WHEN $5 AND sum(p.fee) > 0 THEN sum(p.score * p.days * p.fee) / sum(p.days * p.fee)
            ELSE sum(p.score * p.days) / sum(p.days) END AS score,
       count(DISTINCT p.compound_id) AS compounds, sum(p.days)::int AS days,
       bool_or(b.company_id IS NOT NULL) AS black
FROM spans p LEFT JOIN black b ON b.snapshot_id = p.snapshot_id AND b.company_id = p.company_id
GROUP BY p.snapshot_id, p.manager_id
"""

HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class ManagerRating:
    manager_id: int
    company_id: int
    name: str
    score: Decimal
    compounds: int
    days: int
    rank: int


async def period_scores(snapshots: list[tuple[int, date, date]], *, fee_weighted: bool) -> list[dict]:
    """The managers' rows (``PERIOD_SCORES``) of the given (snapshot id, first day, last day) triples, the score
    rounded to hundredths half up."""
    if not snapshots:
        return []
    rows = await connections.get("default").execute_query_dict(
        PERIOD_SCORES,
        [current_tenant_id(), [s[0] for s in snapshots], [s[1] for s in snapshots], [s[2] for s in snapshots],
         fee_weighted],
    )
    for r in rows:
        r["score"] = Decimal(r["score"]).quantize(HUNDREDTH, rounding="ROUND_HALF_UP")
    return rows


async def _fee_weighted(day: date) -> bool:
    return (await effective_config(day)).document.assessment.company_combination == "fee_receivable"


async def manager_ratings(*, access: Access, period_key: str) -> list[ManagerRating]:
    """The managers' ratings of a period's shown snapshot, best first (ties: by id), for the managers the caller
    reads (a firm: its own; a resident none). Published ratings are public within the tenant, as the firms' are."""
    snap = await snapshot_for(access, period_key)
    start, end = periods.bounds(period_key)
    rows = await period_scores([(snap.id, start, end)], fee_weighted=await _fee_weighted(end))
    rows.sort(key=lambda r: (-r["score"], r["manager_id"]))
    readable = {m.id: m for m in await readable_managers(access).filter(id__in=[r["manager_id"] for r in rows])}
    return [
        ManagerRating(r["manager_id"], readable[r["manager_id"]].company_id, readable[r["manager_id"]].name,
                      r["score"], r["compounds"], r["days"], i)
        for i, r in enumerate(rows, start=1)
        if r["manager_id"] in readable
    ]


async def yearly_rows(year: int) -> list[dict]:
    """Each manager's year over the latest published revision of each period: ``id`` (the manager), their firm,
    the average of their period scores, how many periods, how many of them a firm of theirs was on the black list;
    lowest average first (ties: by id)."""
    snaps = await _latest_published(year)
    rows = await period_scores(snaps, fee_weighted=await _fee_weighted(date(year, 12, 31)))
    by_manager: dict[int, list[dict]] = {}
    for r in rows:
        by_manager.setdefault(r["manager_id"], []).append(r)
    firms = dict(await PropertyManager.filter(id__in=list(by_manager)).values_list("id", "company_id"))
    out = [
        {
            "id": m,
            "company_id": firms.get(m, 0),
            "average": sum((r["score"] for r in rs), Decimal(0)) / len(rs),
            "periods": len(rs),
            "black": sum(1 for r in rs if r["black"]),
        }
        for m, rs in by_manager.items()
    ]
    out.sort(key=lambda r: (r["average"], r["id"]))
    return out


async def _latest_published(year: int) -> list[tuple[int, date, date]]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT DISTINCT ON (period_key) id, period_key FROM rating_snapshot"
        " WHERE tenant_id = $1 AND status = 'published' AND period_key LIKE $2 ORDER BY period_key, revision DESC",
        [current_tenant_id(), f"{year}%"],
    )
    return [(r["id"], *periods.bounds(r["period_key"])) for r in rows]
