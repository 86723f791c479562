"""Benchmark: a month's grid scores and pay statements, and the leaderboards, at XX市's scale.

Run: .venv/bin/python bench/points_grids.py
Uses the embedded PostgreSQL under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-points-grids), or DATABASE_URL
and DATABASE_OWNER_URL if set. Seeds (set-based) 10 streets, 100 communities, 4,327 grids with a grid worker each,
8,654 compounds, 80,000 households, 200,000 people who earned points in March 2026 (one award each, through the
ledger's trigger), 60,000 tickets opened in March and a published 2026Q1 rating of every compound. Measures:
- computeGridScores 2026-03 (grid scores of 4,327 grids + 4,327 draft pay statements), then a re-run;
- a person leaderboard page (top 20 + the caller's own rank, for a low-ranked caller), and grid, community and
  street leaderboards for the quarter (three months of scores).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402

GRIDS = 4327
NOW = datetime(2026, 4, 10, 4, tzinfo=UTC)

SEED = [
    "INSERT INTO street (tenant_id, code, name, is_active, created_at, updated_at)"
    " SELECT $1, 'S' || g, '街道' || g, true, now(), now() FROM generate_series(1, 10) g",
    "INSERT INTO community (tenant_id, street_id, code, name, is_active, created_at, updated_at)"
    " SELECT $1, s.id, 'C' || g, '社区' || g, true, now(), now() FROM generate_series(0, 99) g"
    " JOIN street s ON s.tenant_id = $1 AND s.code = 'S' || (g % 10 + 1)",
    "INSERT INTO grid (tenant_id, street_id, community_id, code, name, is_active, created_at, updated_at)"
    " SELECT $1, c.street_id, c.id, 'G' || g, '网格' || g, true, now(), now()"
    f" FROM generate_series(0, {GRIDS - 1}) g JOIN community c ON c.tenant_id = $1 AND c.code = 'C' || (g % 100)",
    "INSERT INTO compound (tenant_id, street_id, community_id, grid_id, code, name, address, is_active,"
    " created_at, updated_at) SELECT $1, r.street_id, r.community_id, r.id, 'K' || g, '小区' || g, '', true,"
    f" now(), now() FROM generate_series(0, {2 * GRIDS - 1}) g JOIN grid r ON r.tenant_id = $1"
    f" AND r.code = 'G' || (g % {GRIDS})",
    "INSERT INTO building (tenant_id, street_id, community_id, grid_id, compound_id, code, name, is_active,"
    " created_at, updated_at) SELECT $1, k.street_id, k.community_id, k.grid_id, k.id, '1', '1号楼', true, now(),"
    " now() FROM compound k WHERE k.tenant_id = $1",
    "INSERT INTO household (tenant_id, street_id, community_id, grid_id, compound_id, building_id, code, name,"
    " is_active, created_at, updated_at) SELECT $1, b.street_id, b.community_id, b.grid_id, b.compound_id, b.id,"
    " h::text, h::text, true, now(), now() FROM building b CROSS JOIN LATERAL generate_series(1, 10) h"
    " WHERE b.tenant_id = $1 AND (b.id % 100) < 92",  # about 80,000 households
    "INSERT INTO person (tenant_id, user_id, name, phone, household_id, is_party_member, created_at, updated_at)"
    " SELECT $1, 'u' || h.id || '-' || n, '居民' || h.id, '', h.id, false, now(), now()"
    " FROM household h CROSS JOIN generate_series(1, 3) n WHERE h.tenant_id = $1 AND (n < 3 OR h.id % 2 = 0)",
    "INSERT INTO person (tenant_id, user_id, name, phone, household_id, is_party_member, created_at, updated_at)"
    " SELECT $1, 'gw-' || r.id, '网格员' || r.id, '', NULL, true, now(), now() FROM grid r WHERE r.tenant_id = $1",
    "INSERT INTO post (tenant_id, person_id, kind, target_kind, target_id, starts_on, created_at)"
    " SELECT $1, p.id, 'grid_worker', 'grid', substr(p.user_id, 4)::bigint, '2025-01-01', now()"
    " FROM person p WHERE p.tenant_id = $1 AND p.user_id LIKE 'gw-%'",
    # One award per person in March (the trigger keeps balances and period totals), 1..50 points.
    "INSERT INTO points_entry (tenant_id, person_id, kind, amount, rule_code, source_kind, source_ref, reason,"
    " evidence, author, occurred_on, created_at, idempotency_key)"
    " SELECT $1, p.id, 'award', 1 + p.id % 50, 'duty', 'manual', '', '', '[]', 'bench',"
    " date '2026-03-01' + (p.id % 28)::int, now(), 'bench:' || p.id FROM person p WHERE p.tenant_id = $1",
    "INSERT INTO ticket (tenant_id, category_code, item_code, description, photos, contact, channel, street_id,"
    " community_id, grid_id, compound_id, address, reporter_user_id, entered_by, state, step_seq, escalation_level,"
    " escalations, reopened, rating, satisfied, resolved_on_time, rules, opened_at, resolved_at, updated_at)"
    " SELECT $1, 'property_service', 'corridor_clutter', '楼道堆物', '[]', '', 'app', k.street_id, k.community_id,"
    " k.grid_id, k.id, '', 'r', 'r', CASE WHEN g % 10 = 0 THEN 'rejected' WHEN g % 10 < 8 THEN 'closed'"
    " ELSE 'accepted' END, 1, 0, 0, 0, CASE WHEN g % 10 BETWEEN 1 AND 7 THEN 3 + g % 3 END,"
    " CASE WHEN g % 10 BETWEEN 1 AND 7 THEN g % 3 <> 0 END, CASE WHEN g % 10 BETWEEN 1 AND 7 THEN g % 5 <> 0 END,"
    " '{}', timestamptz '2026-03-02 01:00+00' + (g % 600) * interval '1 hour',"
    " CASE WHEN g % 10 BETWEEN 1 AND 7 THEN timestamptz '2026-03-03 01:00+00' END, now()"
    f" FROM generate_series(0, 59999) g JOIN compound k ON k.tenant_id = $1 AND k.code = 'K' || (g % {2 * GRIDS})",
]
SNAPSHOT = (
    "INSERT INTO rating_snapshot (tenant_id, period_key, revision, status, reason, computed_at)"
    " VALUES ($1, '2026Q1', 1, 'draft', '', now()) RETURNING id"
)
RATINGS = (
    "INSERT INTO compound_rating (tenant_id, snapshot_id, compound_id, company_id, score, body_part,"
    " objective_part, deductions, rank, breakdown) SELECT $1, $2, k.id, 0, 60 + (k.id % 4000) / 100.0,"
    " 60 + (k.id % 4000) / 100.0, NULL, 0, 1, '{}' FROM compound k WHERE k.tenant_id = $1"
)
CONFIG = {
    "points": {
        "enabled": True,
        "grid_score": {"points_basis": "per_household", "points_full_marks": 40},
        "performance_pay": {
            "enabled": True, "base_fen": 300_000, "points_rate_fen": 100, "points_cap_fen": 5_000, "cap_fen": 0,
            "bands": [{"min_score": 90, "percent": 100}, {"min_score": 80, "percent": 80},
                      {"min_score": 0, "percent": 50}],
        },
    }
}


def timed(label: str, t0: float, extra: str = "") -> float:
    took = time.perf_counter() - t0
    print(f"{label:<60} {took * 1000:8.1f} ms {extra}")
    return took


async def main() -> None:
    import time_machine
    from tortoise import Tortoise

    from tenants.config.service import change_config
    from tenants.db import tortoise_config
    from tenants.points import grids, leaderboards, pay
    from tenants.points.grid_models import GridScore
    from tenants.scope import tenant_transaction
    from tenants.tenancy.roles import Role
    from tenants.tenancy.service import create_tenant
    from tenants.territory.access import SYSTEM, Access

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    try:
        slug = f"grid-bench-{int(time.time())}"
        with time_machine.travel(datetime(2026, 1, 1, 4, tzinfo=UTC), tick=True):
            tenant = await create_tenant(slug=slug, name="XX市", preset="sanbai")
            async with tenant_transaction(tenant.id):
                await change_config(access=SYSTEM, actor="bench", set_values=CONFIG, comment="bench")
        t0 = time.perf_counter()
        async with tenant_transaction(tenant.id) as conn:
            for sql in SEED:
                await conn.execute_query(sql, [tenant.id])
            sid = (await conn.execute_query_dict(SNAPSHOT, [tenant.id]))[0]["id"]
            await conn.execute_query(RATINGS, [tenant.id, sid])
            await conn.execute_query(
                "UPDATE rating_snapshot SET status = 'published', published_at = now(), published_by = 'b'"
                " WHERE id = $1", [sid],
            )
            people = (await conn.execute_query_dict("SELECT count(*) AS n FROM person"))[0]["n"]
            tickets = (await conn.execute_query_dict("SELECT count(*) AS n FROM ticket"))[0]["n"]
        await _analyze()
        timed(f"seed ({GRIDS} grids, {people} people, {tickets} tickets)", t0)

        for label in ("computeGridScores 2026-03 (scores + pay statements)", "re-run 2026-03 (recompute)"):
            t = time.perf_counter()
            async with tenant_transaction(tenant.id):
                scores, statements = await pay.run_month(access=SYSTEM, month="2026-03", actor="bench", now=NOW)
            timed(label, t, f"({scores.grids} grids, {len(statements.written)} statements)")
        for label, step in (("  grid scores only (re-run)", "grids"), ("  pay statements only (re-run)", "pay")):
            t = time.perf_counter()
            async with tenant_transaction(tenant.id):
                if step == "grids":
                    await grids.compute_month(access=SYSTEM, month="2026-03", actor="bench", now=NOW)
                else:
                    await pay.compute_month(access=SYSTEM, month="2026-03", actor="bench", now=NOW)
            timed(label, t)
        async with tenant_transaction(tenant.id) as conn:  # January and February too, for the quarter's boards
            for month in ("2026-01", "2026-02"):
                await pay.run_month(access=SYSTEM, month=month, actor="bench", now=NOW)
            assert await GridScore.filter(period_key="2026-03").count() == GRIDS
            rows = await conn.execute_query_dict(
                "SELECT user_id FROM person WHERE id % 50 = 0 AND user_id LIKE 'u%' ORDER BY id LIMIT 1"
            )
            low = rows[0]["user_id"]  # earned 1 point in March: near the bottom of the board
        caller = Access(roles=frozenset({Role.RESIDENT}), user_id=low)
        for kind, period in (("person", "2026-03"), ("person", "2026Q1"), ("grid", "2026Q1"),
                             ("community", "2026Q1"), ("street", "2026")):
            best = 1e9
            for _ in range(5):
                t = time.perf_counter()
                async with tenant_transaction(tenant.id):
                    board = await leaderboards.leaderboard(
                        access=caller, kind=leaderboards.BoardKind(kind), period=period, first=20
                    )
                best = min(best, time.perf_counter() - t)
            me = f", own rank {board.me.rank}" if board.me else ""
            print(f"{'leaderboard ' + kind + ' ' + period + ' (top 20' + me + ')':<60} {best * 1000:8.1f} ms best of 5")
    finally:
        await Tortoise.close_connections()


async def _analyze() -> None:
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_OWNER_URL"])
    try:
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would: index-only scans for the ranks
    finally:
        await conn.close()


if __name__ == "__main__":
    run(main(), home_name="bench-points-grids")
