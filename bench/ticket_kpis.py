"""Benchmark: ticket KPIs of a tenant with 3,000 compounds and 1,000,000 tickets.

Run: .venv/bin/python bench/ticket_kpis.py [tickets]
Uses the embedded PostgreSQL under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-kpis), or DATABASE_URL and
DATABASE_OWNER_URL if set. Territory (10 streets, 100 communities, 600 grids, 3,000 compounds, 200 companies
serving 2,400 compounds) and tickets spread over the twelve months before November 2026 are inserted set-based
(INSERT ... SELECT generate_series), each ticket carrying the rules JSON of one real ticket made by the service;
one ticket in twenty has an escalation. Then each KPI query is timed for one month and for one quarter: the
first (cold-ish) run and the best of three more.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402
from bench._seed import territory  # noqa: E402

T = TypeVar("T")
COMPOUNDS = 3000
CHUNK = 100_000
START = datetime(2025, 10, 31, 16, tzinfo=UTC)  # 2025-11-01 00:00 in Asia/Shanghai
OPEN_STATES = "('reported', 'dispatched', 'transferred', 'accepted', 'reopened')"

TERRITORY = [
    *territory(COMPOUNDS, 200),
    "INSERT INTO property_contract (tenant_id, company_id, compound_id, starts_on, ends_on, annual_fee_fen,"
    " reference, created_at, updated_at) SELECT $1, p.id, k.id, '2025-01-01', '2027-12-31', 12000000, '', now(),"
    " now() FROM compound k JOIN property_company p ON p.tenant_id = $1"
    " AND p.credit_code = '9113' || lpad((substr(k.code, 2)::int % 200)::text, 6, '0')"
    " WHERE k.tenant_id = $1 AND substr(k.code, 2)::int % 5 <> 0",
]

# $1 tenant, $2..$3 the chunk of generate_series, $4 first instant, $5 tickets in all, $6 the real ticket.
TICKETS = f"""
WITH k AS (
    SELECT row_number() OVER (ORDER BY c.id) - 1 AS n, c.id, c.street_id, c.community_id, c.grid_id, pc.company_id
    FROM compound c LEFT JOIN property_contract pc ON pc.tenant_id = $1 AND pc.compound_id = c.id
    WHERE c.tenant_id = $1
), h AS (
    SELECT g, abs(hashint8extended(g, 1)) AS h1, abs(hashint8extended(g, 2)) AS h2,
           abs(hashint8extended(g, 3)) % 100 AS s, abs(hashint8extended(g, 4)) AS h4
    FROM generate_series($2::bigint, $3::bigint) g
), x AS (
    SELECT g, h4, $4::timestamptz + (g::float8 / $5) * interval '365 days' AS opened, h1 % {COMPOUNDS} AS kn,
           h2 % 10 AS u,
           CASE WHEN s < 3 THEN 'rejected' WHEN s < 6 THEN 'reported' WHEN s < 14 THEN 'accepted'
                WHEN s < 16 THEN 'reopened' WHEN s < 26 THEN 'resolved' ELSE 'closed' END AS state
    FROM h
), y AS (
    SELECT x.*, k.*,
           CASE WHEN x.state IN ('rejected', 'reported') THEN NULL
                WHEN x.u < 7 AND k.company_id IS NOT NULL THEN 'property_company'
                WHEN x.u < 9 THEN 'community' ELSE 'street' END AS akind
    FROM x JOIN k ON k.n = x.kn
), real AS (SELECT rules, config_version FROM ticket WHERE tenant_id = $1 AND id = $6)
INSERT INTO ticket (tenant_id, category_code, item_code, description, photos, contact, channel, street_id,
    community_id, grid_id, compound_id, address, reporter_user_id, entered_by, state, assignee_kind, assignee_id,
    step_seq, due_at, escalation_level, escalations, reopened, rating, satisfied, resolved_on_time, rules,
    config_version, opened_at, dispatched_at, resolved_at, closed_at, updated_at)
SELECT $1, 'property_service', 'corridor_clutter', '楼道堆物', '[]', '', 'app', y.street_id, y.community_id,
    y.grid_id, y.id, '', 'r' || (y.g % 50000), 'r' || (y.g % 50000), y.state, y.akind,
    CASE y.akind WHEN 'property_company' THEN y.company_id WHEN 'community' THEN y.community_id
                 WHEN 'street' THEN y.street_id END,
    2, CASE WHEN y.state IN {OPEN_STATES} THEN y.opened + interval '27 hours' END, 0,
    (y.h4 % 20 = 0 AND y.akind IS NOT NULL)::int, (y.state = 'reopened' OR y.h4 % 23 = 0)::int,
    CASE y.state WHEN 'closed' THEN 4 + y.h4 % 2 WHEN 'reopened' THEN 1 + y.h4 % 3 END,
    CASE WHEN y.state IN ('closed', 'reopened') THEN y.state = 'closed' END,
    CASE WHEN y.state IN ('resolved', 'closed') THEN y.h4 % 7 <> 0 END,
    real.rules, real.config_version, y.opened,
    CASE WHEN y.akind IS NOT NULL THEN y.opened + interval '1 hour' END,
    CASE WHEN y.state IN ('resolved', 'closed') THEN y.opened + (2 + y.h4 % 70) * interval '1 hour' END,
    CASE WHEN y.state IN ('closed', 'rejected') THEN y.opened + interval '80 hours' END, now()
FROM y CROSS JOIN real
"""

ESCALATIONS = """
INSERT INTO escalation (tenant_id, ticket_id, from_level, to_level, unit_kind, unit_id, automatic, reason, period, at)
SELECT $1, id, 0, 1, assignee_kind, assignee_id, true, '超时未办',
       to_char((opened_at + interval '30 hours') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'),
       opened_at + interval '30 hours'
FROM ticket WHERE tenant_id = $1 AND escalations = 1
"""


async def seed(n: int) -> tuple[int, int]:
    from tenants.scope import tenant_context, tenant_transaction
    from tenants.tenancy.roles import Role
    from tenants.tenancy.service import create_tenant
    from tenants.territory.access import Access
    from tenants.tickets import intake

    tenant = await create_tenant(slug=f"kpi-bench-{int(time.time())}", name="基准测试市", preset="zhangjiakou")
    t = time.perf_counter()
    async with tenant_transaction(tenant.id) as conn:
        for sql in TERRITORY:
            await conn.execute_query(sql, [tenant.id])
        rows = await conn.execute_query_dict("SELECT min(id) AS k FROM compound WHERE tenant_id = $1", [tenant.id])
    with tenant_context(tenant.id):
        admin = Access(roles=frozenset({Role.TENANT_ADMIN}), user_id="bench")
        real = await intake.report(
            access=admin, actor="bench", item_code="corridor_clutter", description="楼道堆物", compound_id=rows[0]["k"]
        )
    print(f"territory: {COMPOUNDS} compounds in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    for lo in range(1, n + 1, CHUNK):
        hi = min(lo + CHUNK - 1, n)
        async with tenant_transaction(tenant.id) as conn:
            await conn.execute_query(TICKETS, [tenant.id, lo, hi, START, n, real.id])
        print(f"  tickets {hi:>9,} ({time.perf_counter() - t:.0f} s)", flush=True)
    async with tenant_transaction(tenant.id) as conn:
        await conn.execute_query(ESCALATIONS, [tenant.id])
        counts = await conn.execute_query_dict(
            "SELECT (SELECT count(*) FROM ticket WHERE tenant_id = $1) AS tickets,"
            " (SELECT count(*) FROM escalation WHERE tenant_id = $1) AS escalations",
            [tenant.id],
        )
    print(
        f"seeded {counts[0]['tickets']:,} tickets, {counts[0]['escalations']:,} escalations"
        f" in {time.perf_counter() - t:.0f} s"
    )
    return tenant.id, rows[0]["k"]


async def analyze() -> None:
    from tenants.db import connect

    conn = await connect(os.environ.get("DATABASE_OWNER_URL", os.environ["DATABASE_URL"]))
    try:
        await conn.execute("VACUUM ANALYZE ticket")
        await conn.execute("VACUUM ANALYZE escalation")
    finally:
        await conn.close()


async def timed(label: str, make: Callable[[], Awaitable[T]]) -> T:
    t = time.perf_counter()
    result = await make()
    first = time.perf_counter() - t
    best = first
    for _ in range(3):
        t = time.perf_counter()
        await make()
        best = min(best, time.perf_counter() - t)
    print(f"{label:38s} first {first:6.3f} s  best {best:6.3f} s", end="  ")
    return result


async def measure(tenant_id: int, compound_id: int) -> None:
    from tenants.scope import tenant_context
    from tenants.tenancy.roles import Role
    from tenants.territory.access import Access
    from tenants.tickets import kpis

    admin = Access(roles=frozenset({Role.TENANT_ADMIN}))
    periods = {
        "month 2026-10": (date(2026, 10, 1), date(2026, 11, 1)),
        "quarter 2026Q3": (date(2026, 7, 1), date(2026, 10, 1)),
    }
    with tenant_context(tenant_id):
        from tenants.scope import scoped_transaction
        from tenants.territory.models import Street

        async with scoped_transaction():
            street = await Street.filter(code="S1").first()
        assert street is not None
        officer = Access(roles=frozenset({Role.STREET_OFFICER}), nodes={"street": frozenset({street.id})})
        for name, (start, end) in periods.items():
            for dim in kpis.Dimension:
                rows = await timed(
                    f"{name} {dim.value}",
                    lambda d=dim, s=start, e=end: kpis.ticket_kpis(access=admin, start=s, end=e, dimension=d),
                )
                top = rows[0]
                print(
                    f"{len(rows):5d} keys, received {sum(r.received for r in rows):>7,}, first {top.name}:"
                    f" {top.received} recv, closure {top.closure_rate_bp} bp, {top.escalations} esc"
                )
            rows = await timed(
                f"{name} community, street officer",
                lambda s=start, e=end: kpis.ticket_kpis(
                    access=officer, start=s, end=e, dimension=kpis.Dimension.COMMUNITY
                ),
            )
            print(f"{len(rows):5d} keys")
            ranked = await timed(f"{name} unit ranking", lambda s=start, e=end: kpis.unit_ranking(start=s, end=e))
            best = ranked[0].kpi
            print(f"{len(ranked):5d} units, #1 {best.name} closure {best.closure_rate_bp} bp")
        series = await timed(
            "compound series 2025-11..2026-10",
            lambda: kpis.compound_series(
                access=admin, compound_id=compound_id, from_month="2025-11", to_month="2026-10"
            ),
        )
        print(" ".join(str(m.count) for m in series))


async def main(n: int) -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    try:
        tenant_id, compound_id = await seed(n)
        t = time.perf_counter()
        await analyze()
        print(f"vacuum analyze {time.perf_counter() - t:.1f} s")
        await measure(tenant_id, compound_id)
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    run(main(n), home_name="bench-kpis")
