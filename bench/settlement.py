"""Benchmark: 以奖代补 settlement of a 下花园区-style tenant with 3,000 compounds in 100 communities.

Run: .venv/bin/python bench/settlement.py
Uses the embedded PostgreSQL under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-settlement), or DATABASE_URL
and DATABASE_OWNER_URL if set. Seeds (set-based) 10 streets, 100 communities, 600 grids, 3,000 compounds, 300
companies with a contract per compound, and published compound ratings for 2026Q1..Q3 (scores spread over every
band). Then measures:
- run 2026Q1 (100 draft statements, 3,000 lines), re-run unchanged, approve all 100 (ledger postings), pay all;
- revise 2026Q1's ratings (a new published revision moving every compound's score), run 2026Q2: 100 statements
  with 3,000 regular lines plus an adjustment line per compound whose Q1 amount changed;
- run 2026Q3 once Q2 is approved (two earlier periods to reconcile).
and checks the ledger (every balance against its postings) at the end.
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
from bench._seed import territory  # noqa: E402

COMPOUNDS = 3000
COMPANIES = 300
NOW = datetime(2026, 10, 20, 4, tzinfo=UTC)

CONTRACTS = (
    "INSERT INTO property_contract (tenant_id, company_id, compound_id, starts_on, ends_on, annual_fee_fen,"
    " reference, created_at, updated_at) SELECT $1, p.id, k.id, '2026-01-01', '2026-12-31', 12000000, '', now(), now()"
    " FROM compound k JOIN property_company p ON p.tenant_id = $1"
    f" AND p.credit_code = '9113' || lpad((substr(k.code, 2)::int % {COMPANIES})::text, 6, '0')"
    " WHERE k.tenant_id = $1"
)
# $1 tenant, $2 period, $3 revision, $4 salt: a published snapshot with a score per compound in 50.00..99.99.
SNAPSHOT = (
    "INSERT INTO rating_snapshot (tenant_id, period_key, revision, status, reason, computed_at)"
    " VALUES ($1, $2, $3, 'draft', CASE WHEN $3 > 1 THEN 'bench revision' ELSE '' END, now()) RETURNING id"
)
RATINGS = (
    "INSERT INTO compound_rating (tenant_id, snapshot_id, compound_id, company_id, score, body_part,"
    " objective_part, deductions, rank, breakdown)"
    " SELECT $1, $2, c.compound_id, c.company_id, s.score, s.score, NULL, 0,"
    " row_number() OVER (ORDER BY s.score DESC, c.compound_id), '{}'::jsonb"
    " FROM property_contract c CROSS JOIN LATERAL"
    " (SELECT 50 + (abs(hashint8extended(c.compound_id, $3::bigint)) % 5000) / 100.0 AS score) s"
    " WHERE c.tenant_id = $1"
)


async def publish(conn, tenant_id: int, period: str, revision: int) -> None:  # type: ignore[no-untyped-def]
    rows = await conn.execute_query_dict(SNAPSHOT, [tenant_id, period, revision])
    sid = rows[0]["id"]
    await conn.execute_query(RATINGS, [tenant_id, sid, revision * 7 + int(period[-1])])
    await conn.execute_query(
        "UPDATE rating_snapshot SET status = 'published', published_at = now(), published_by = 'bench' WHERE id = $1",
        [sid],
    )


def timed(label: str, t0: float, extra: str = "") -> float:
    took = time.perf_counter() - t0
    print(f"{label:<52} {took:6.2f} s {extra}")
    return took


async def main() -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config
    from tenants.ledger.service import verify
    from tenants.scope import tenant_transaction
    from tenants.subsidies import service
    from tenants.subsidies.models import LineKind, SettlementLine, SettlementStatement
    from tenants.tenancy.service import create_tenant, get_tenant_by_slug
    from tenants.territory.access import SYSTEM

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    try:
        if await get_tenant_by_slug("zhangjiakou") is None:
            await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
        tenant = await create_tenant(
            slug=f"settle-bench-{int(time.time())}", name="结算基准区", parent_slug="zhangjiakou", preset="xiahuayuan"
        )
        t0 = time.perf_counter()
        async with tenant_transaction(tenant.id) as conn:
            for sql in [*territory(COMPOUNDS, COMPANIES), CONTRACTS]:
                await conn.execute_query(sql, [tenant.id])
            for period in ("2026Q1", "2026Q2", "2026Q3"):
                await publish(conn, tenant.id, period, 1)
        timed("seed (3,000 compounds, 3 quarters of ratings)", t0)

        async def settle(period: str) -> list[int]:
            t = time.perf_counter()
            async with tenant_transaction(tenant.id):
                result = await service.run(access=SYSTEM, period_key=period, actor="bench", now=NOW)
            timed(
                f"run {period}",
                t,
                f"({len(result.created)} created, {len(result.replaced)} replaced, {len(result.unchanged)} unchanged)",
            )
            return result.statement_ids

        async def approve_and_pay(ids: list[int]) -> None:
            t = time.perf_counter()
            async with tenant_transaction(tenant.id):
                for sid in ids:
                    await service.approve(access=SYSTEM, statement_id=sid, actor="bench", now=NOW)
            timed(
                f"approve {len(ids)} statements (each re-checked, posted)",
                t,
                f"{(time.perf_counter() - t) / len(ids) * 1000:.0f} ms each",
            )
            t = time.perf_counter()
            async with tenant_transaction(tenant.id):
                for sid in ids:
                    await service.pay(
                        access=SYSTEM, statement_id=sid, reference=f"BANK-{sid}", actor="bench", now=NOW
                    )
            timed(f"pay {len(ids)} statements", t)

        q1 = await settle("2026Q1")
        await settle("2026Q1")
        await approve_and_pay(q1)
        async with tenant_transaction(tenant.id) as conn:
            await publish(conn, tenant.id, "2026Q1", 2)
        q2 = await settle("2026Q2")
        async with tenant_transaction(tenant.id):
            adjustments = await SettlementLine.filter(kind=LineKind.ADJUSTMENT).count()
            lines = await SettlementLine.all().count()
        print(f"    2026Q2 carries {adjustments} adjustment lines for 2026Q1 ({lines} lines in all so far)")
        await approve_and_pay(q2)
        await settle("2026Q3")
        t = time.perf_counter()
        async with tenant_transaction(tenant.id):
            mismatches = await verify()
            statements = await SettlementStatement.all().count()
        timed("ledger check (every balance against its postings)", t, f"mismatches: {len(mismatches)}")
        print(f"    {statements} statements")
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    run(main(), home_name="bench-settlement")
