"""Grid scores 网格评分: each grid's score for a month from its tickets, its compounds' ratings and its people's points.

Lines (weights from ``points.grid_score.weights``, summing to 100), each a rate between 0 and 1:

- ``closure_rate``, ``satisfaction_rate``, ``on_time_rate``: the grid's tickets opened in the month (tenant-local),
  with the ticket KPIs' definitions (``tenants.tickets.kpis``: closed / (received - rejected), satisfied / rated,
  resolved on time / resolved), from exact counts.
- ``compound_rating``: the mean score / 100 of the grid's compounds in the latest published rating snapshot whose
  period covers the month (the month itself, or its quarter).
- ``points``: points earned in the month (``points_period_total``) by the people living in the grid, per household
  of the grid (``per_household``) or per person of the grid who earned any (``per_earner``), against
  ``points_full_marks`` (capped at full marks).

A line without data (no tickets to divide by, no published rating of the grid's compounds, no household or person
in the grid) is left out and its weight shared out over the other lines in proportion to their weights; a grid
with no data at all scores 0. The score is in hundredths, rounded half up from the exact sum; the lines'
contributions are apportioned to it by largest remainder (ties: the line listed first), so they add up exactly.

One pass for the whole tenant: one statement reads every grid's figures, one writes every score (an upsert), one
removes the scores of grids no longer active; a re-run recomputes (idempotent).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import connections

from tenants import clock, periods
from tenants.audit import service as audit
from tenants.config.document import ConfigDocument
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, Problem
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.points.config import PointsNotEnabled
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.tickets.kpis import TICKET_COUNTS

LINES = ("closure_rate", "satisfaction_rate", "on_time_rate", "compound_rating", "points")
TITLES = {
    "closure_rate": ("结案率", "closure rate"),
    "satisfaction_rate": ("满意率", "satisfaction rate"),
    "on_time_rate": ("按时办结率", "on-time rate"),
    "compound_rating": ("小区评级", "compound rating"),
    "points": ("积分", "points"),
}


async def check_ended(month: str, at: datetime, field: str = "month") -> None:
    _, end = periods.month_bounds(month, field)
    if await clock.today(at) <= end:
        raise InvalidInput.of(
            [Problem(field, "not_ended", f"{month} 尚未结束，结束后方可计算", f"{month} has not ended yet")]
        )


Rate = tuple[int, int]  # numerator, denominator (> 0): a rate between 0 and 1 as exact integers


@dataclass(frozen=True)
class Line:
    code: str
    weight: int
    numerator: int | None  # the figure behind the rate (None: no data)
    denominator: int | None
    rate: Rate | None  # 0..1; None: no data, the weight is shared out

    @property
    def applies(self) -> bool:
        return self.rate is not None


def _rate(part: int, whole: int) -> Rate | None:
    return None if whole <= 0 else (part, whole)


def _hundredths(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


def half_up(n: int, d: int) -> int:
    """``n / d`` (both >= 0, d > 0) rounded half up to a whole number."""
    return (2 * n + d) // (2 * d)


def largest_remainder(quotas: list[Rate], total: int) -> list[int]:
    """Round the quotas (exact fractions) down and hand the ``total - sum`` units left, one each, to the largest
    remainders (ties: the earlier quota). Integer arithmetic only: this runs for every grid of a tenant."""
    common = math.lcm(*(d for _, d in quotas))
    floors = [n // d for n, d in quotas]
    remainders = [(n % d) * (common // d) for n, d in quotas]
    left = total - sum(floors)
    for i in sorted(range(len(quotas)), key=lambda i: (-remainders[i], i))[:left]:
        floors[i] += 1
    return floors


def score(lines: list[Line]) -> tuple[int, list[dict[str, Any]]]:
    """The score in hundredths and its breakdown (each line's contribution in hundredths, summing to it)."""
    shared = sum(line.weight for line in lines if line.applies)
    # Each line's exact contribution in hundredths: 10000 x weight x rate / shared weight.
    exact: list[Rate] = [
        (10000 * line.weight * line.rate[0], shared * line.rate[1]) if line.rate is not None and shared else (0, 1)
        for line in lines
    ]
    common = math.lcm(*(d for _, d in exact))
    total = half_up(sum(n * (common // d) for n, d in exact), common)
    parts = largest_remainder(exact, total)
    breakdown = []
    for line, (n, d), part in zip(lines, exact, parts, strict=True):
        gcd = math.gcd(n, d)
        breakdown.append(
            {
                "code": line.code,
                "title_zh": TITLES[line.code][0],
                "title_en": TITLES[line.code][1],
                "weight": line.weight,
                "applies": line.applies,
                "effective_weight": _hundredths(half_up(10000 * line.weight, shared) if line.applies and shared else 0),
                "numerator": line.numerator,
                "denominator": line.denominator,
                "rate_percent": None if line.rate is None else _hundredths(half_up(10000 * line.rate[0], line.rate[1])),
                "exact": f"{n // gcd}/{d // gcd}",
                "contribution": _hundredths(part),
            }
        )
    return total, breakdown


FIGURES_SQL = """
WITH g AS (
    SELECT id, community_id, street_id FROM grid WHERE tenant_id = $1 AND is_active
), t AS (
    SELECT t.grid_id, {counts}
    FROM ticket t
    WHERE t.tenant_id = $1 AND t.opened_at >= $2 AND t.opened_at < $3 AND t.grid_id IS NOT NULL
    GROUP BY t.grid_id
), snap AS (
    SELECT id, period_key, revision FROM rating_snapshot
    WHERE tenant_id = $1 AND status = 'published' AND period_key = ANY($4::text[])
    ORDER BY published_at DESC NULLS LAST, revision DESC, id DESC LIMIT 1
), r AS (
    SELECT k.grid_id, sum(cr.score) AS rating_sum, count(*) AS rated_compounds
    FROM compound_rating cr JOIN snap ON cr.snapshot_id = snap.id
    JOIN compound k ON k.tenant_id = $1 AND k.id = cr.compound_id
    WHERE cr.tenant_id = $1
    GROUP BY k.grid_id
), h AS (
    SELECT grid_id, count(*) AS households FROM household WHERE tenant_id = $1 AND is_active GROUP BY grid_id
), pe AS (  -- people living in each grid: only the per-earner basis needs them
    SELECT hh.grid_id, count(*) AS persons
    FROM person p JOIN household hh ON hh.tenant_id = $1 AND hh.id = p.household_id
    WHERE p.tenant_id = $1 AND p.deactivated_at IS NULL AND $6
    GROUP BY hh.grid_id
), pts AS (
    SELECT hh.grid_id, sum(GREATEST(pt.earned, 0)) AS earned, count(*) FILTER (WHERE pt.earned > 0) AS earners
    FROM points_period_total pt
    JOIN person p ON p.tenant_id = $1 AND p.id = pt.person_id
    JOIN household hh ON hh.tenant_id = $1 AND hh.id = p.household_id
    WHERE pt.tenant_id = $1 AND pt.period_key = $5
    GROUP BY hh.grid_id
)
SELECT g.id AS grid_id, g.community_id, g.street_id,
       coalesce(t.received, 0) AS received, coalesce(t.rejected, 0) AS rejected, coalesce(t.closed, 0) AS closed,
       coalesce(t.resolved, 0) AS resolved, coalesce(t.on_time, 0) AS on_time, coalesce(t.rated, 0) AS rated,
       coalesce(t.satisfied, 0) AS satisfied, r.rating_sum, coalesce(r.rated_compounds, 0) AS rated_compounds,
       (SELECT period_key || ' r' || revision FROM snap) AS snapshot,
       coalesce(h.households, 0) AS households, coalesce(pe.persons, 0) AS persons,
       coalesce(pts.earned, 0) AS earned, coalesce(pts.earners, 0) AS earners
FROM g LEFT JOIN t ON t.grid_id = g.id LEFT JOIN r ON r.grid_id = g.id LEFT JOIN h ON h.grid_id = g.id
LEFT JOIN pe ON pe.grid_id = g.id LEFT JOIN pts ON pts.grid_id = g.id
ORDER BY g.id
"""

UPSERT_SQL = """
INSERT INTO grid_score (tenant_id, period_key, grid_id, community_id, street_id, score, breakdown, config_version,
                        computed_at, computed_by)
SELECT $1, $2, u.grid_id, u.community_id, u.street_id, u.score, u.breakdown::jsonb, $3, $4, $5
FROM unnest($6::bigint[], $7::bigint[], $8::bigint[], $9::numeric[], $10::text[])
     AS u(grid_id, community_id, street_id, score, breakdown)
ON CONFLICT (tenant_id, period_key, grid_id) DO UPDATE SET
    community_id = EXCLUDED.community_id, street_id = EXCLUDED.street_id, score = EXCLUDED.score,
    breakdown = EXCLUDED.breakdown, config_version = EXCLUDED.config_version, computed_at = EXCLUDED.computed_at,
    computed_by = EXCLUDED.computed_by
"""


def lines_of(row: dict[str, Any], doc: ConfigDocument) -> list[Line]:
    """A grid's lines from its figures (one row of ``FIGURES_SQL``) and the configuration."""
    gs = doc.points.grid_score
    w = gs.weights
    received = int(row["received"]) - int(row["rejected"])
    rating = None
    if row["rated_compounds"]:  # the mean score / 100, from the sum of scores in hundredths
        rating = (int(Decimal(row["rating_sum"]) * 100), 10000 * int(row["rated_compounds"]))
    earned = int(row["earned"])
    if gs.points_basis == "per_household":
        basis, present = int(row["households"]), int(row["households"]) > 0
    else:
        basis, present = int(row["earners"]), int(row["persons"]) > 0 or int(row["earners"]) > 0
    points = None
    if present:
        full = basis * gs.points_full_marks
        points = (0, 1) if basis == 0 else ((1, 1) if earned >= full else (earned, full))
    return [
        Line("closure_rate", w.closure_rate, int(row["closed"]), received, _rate(int(row["closed"]), received)),
        Line(
            "satisfaction_rate", w.satisfaction_rate, int(row["satisfied"]), int(row["rated"]),
            _rate(int(row["satisfied"]), int(row["rated"])),
        ),
        Line(
            "on_time_rate", w.on_time_rate, int(row["on_time"]), int(row["resolved"]),
            _rate(int(row["on_time"]), int(row["resolved"])),
        ),
        Line(
            "compound_rating", w.compound_rating,
            None if rating is None else rating[0], int(row["rated_compounds"]) or None, rating,
        ),
        Line("points", w.points, earned, basis if present else None, points),
    ]


@dataclass(frozen=True)
class MonthScores:
    month: str
    grids: int
    config_version: int | None


async def settings_for(month: str) -> tuple[ConfigDocument, int | None]:
    """The configuration in force on the month's last day and the tenant's own version of it."""
    _, end = periods.month_bounds(month)
    eff = await effective_config(end)
    me = (await Tenant.get(id=current_tenant_id())).slug
    return eff.document, eff.versions.get(me)


async def compute_month(*, access: Access, month: str, actor: str, now: datetime | None = None) -> MonthScores:
    """Compute (or recompute) every active grid's score for ``month``, which must have ended."""
    require(access, "grid_scores.compute")
    at = now or clock.now()
    start, end = periods.month_bounds(month)
    await check_ended(month, at)
    async with savepoint() as conn:
        await advisory_lock("grid_scores", month, conn=conn)
        doc, version = await settings_for(month)
        if not doc.points.enabled:
            raise PointsNotEnabled(field="month")
        written = await _write(month, start, end, doc, version, actor, at)
        await audit.record(
            actor=actor, action="grid_scores.compute", target_type="grid_scores", target_id=month,
            details={"grids": written},
        )
        return MonthScores(month, written, version)


async def _write(month: str, start: Any, end: Any, doc: ConfigDocument, version: int | None, actor: str,
                 at: datetime) -> int:
    conn = connections.get("default")
    tid = current_tenant_id()
    zone = await current_zone()
    first = datetime.combine(start, datetime.min.time(), zone)
    after = datetime.combine(end, datetime.min.time(), zone) + (datetime(2000, 1, 2) - datetime(2000, 1, 1))
    covering = [month, periods.key_for(start, "quarterly")]
    rows = await conn.execute_query_dict(
        FIGURES_SQL.format(counts=TICKET_COUNTS),
        [tid, first, after, covering, month, doc.points.grid_score.points_basis == "per_earner"],
    )
    grid_ids, communities, streets, scores, breakdowns = [], [], [], [], []
    for row in rows:
        total, breakdown = score(lines_of(row, doc))
        grid_ids.append(int(row["grid_id"]))
        communities.append(int(row["community_id"]))
        streets.append(int(row["street_id"]))
        scores.append(Decimal(total).scaleb(-2))
        breakdowns.append(json.dumps({"lines": breakdown, "snapshot": row["snapshot"]}, ensure_ascii=False))
    await conn.execute_query(
        UPSERT_SQL, [tid, month, version, at, actor, grid_ids, communities, streets, scores, breakdowns]
    )
    await conn.execute_query(
        "DELETE FROM grid_score WHERE tenant_id = $1 AND period_key = $2 AND NOT (grid_id = ANY($3::bigint[]))",
        [tid, month, grid_ids],
    )
    return len(grid_ids)
