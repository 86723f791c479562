"""Benchmark: the 双报到 building-head coverage report (issue 18) for a city of 500 communities.

Run: .venv/bin/python bench/dual_coverage.py [--runs N]
Uses the embedded PostgreSQL under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-dual), or DATABASE_URL and
DATABASE_OWNER_URL if set. Seeded set-based (INSERT ... SELECT generate_series): a ``shuangluan`` tenant with 50
streets, 500 communities (one grid each), 2,000 compounds, 20,000 buildings; 86 work units with 105 approved
registrations (张家口: 86 units, 105 communities); 11,328 party members each approved at a community; an online
member head on 80 % of the buildings, an offline one on 2 in 3, and a volunteer post for every fourth member.

Measured (p50/p95 of ``--runs``): ``tenants.dual.coverage.coverage`` in a tenant transaction for a street officer
(one street: 10 communities, 400 buildings; the issue's limit 100 ms) and for the tenant admin (all 500
communities), and EXPLAIN (ANALYZE, BUFFERS) of the street's statement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402

SEED = [
    "INSERT INTO street (tenant_id, code, name, is_active, created_at, updated_at)"
    " SELECT $1, 'S' || g, '街道' || g, true, now(), now() FROM generate_series(1, 50) g",
    "INSERT INTO community (tenant_id, street_id, code, name, is_active, created_at, updated_at)"
    " SELECT $1, s.id, 'C' || g, '社区' || g, true, now(), now() FROM generate_series(0, 499) g"
    " JOIN street s ON s.tenant_id = $1 AND s.code = 'S' || (g % 50 + 1)",
    "INSERT INTO grid (tenant_id, street_id, community_id, code, name, is_active, created_at, updated_at)"
    " SELECT $1, c.street_id, c.id, 'G' || c.code, '网格', true, now(), now() FROM community c WHERE c.tenant_id = $1",
    "INSERT INTO compound (tenant_id, street_id, community_id, grid_id, code, name, address, is_active, created_at,"
    " updated_at) SELECT $1, r.street_id, r.community_id, r.id, 'K' || g, '小区' || g, '', true, now(), now()"
    " FROM grid r CROSS JOIN generate_series(1, 4) g WHERE r.tenant_id = $1",
    "INSERT INTO building (tenant_id, street_id, community_id, grid_id, compound_id, code, name, is_active,"
    " created_at, updated_at) SELECT $1, k.street_id, k.community_id, k.grid_id, k.id, g::text, g || '号楼', true,"
    " now(), now() FROM compound k CROSS JOIN generate_series(1, 10) g WHERE k.tenant_id = $1",
    "INSERT INTO work_unit (tenant_id, kind, code, name, party_org, contact_name, contact_phone, is_active,"
    " created_at, updated_at) SELECT $1, 'organ', 'U' || g, '单位' || g, '', '', '', true, now(), now()"
    " FROM generate_series(0, 85) g",
    """WITH c AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, street_id FROM community WHERE tenant_id = $1),
    u AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM work_unit WHERE tenant_id = $1),
    pairs AS (SELECT u.id AS unit, u.n * 4 AS cn FROM u UNION ALL SELECT u.id, u.n * 4 + 1 FROM u WHERE u.n < 19)
    INSERT INTO dual_unit_registration (tenant_id, work_unit_id, community_id, street_id, resources, agreement_from,
        status, reason, created_by, created_at, decided_by, decided_at)
    SELECT $1, pairs.unit, c.id, c.street_id, '["场地"]', '2026-01-01', 'approved', '', 'bench', now(), 'bench', now()
    FROM pairs JOIN c ON c.n = pairs.cn""",
    "INSERT INTO person (tenant_id, user_id, name, phone, is_party_member, created_at, updated_at)"
    " SELECT $1, 'pm' || g, '党员' || g, '', true, now(), now() FROM generate_series(1, 11328) g",
    """WITH c AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, street_id FROM community WHERE tenant_id = $1),
    p AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM person WHERE tenant_id = $1)
    INSERT INTO dual_member_registration (tenant_id, person_id, community_id, street_id, work_unit_name, party_org,
        skills, status, reason, starts_on, self_registered, created_by, created_at, decided_by, decided_at)
    SELECT $1, p.id, c.id, c.street_id, '单位', '党支部', '[]', 'approved', '', '2026-01-01', true, 'bench', now(),
        'bench', now()
    FROM p JOIN c ON c.n = p.n % 500""",
    *(f"""WITH r AS (SELECT id, person_id, community_id, street_id,
            row_number() OVER (PARTITION BY community_id ORDER BY id) - 1 AS i,
            count(*) OVER (PARTITION BY community_id) AS cnt
        FROM dual_member_registration WHERE tenant_id = $1),
    b AS (SELECT id, community_id, row_number() OVER (PARTITION BY community_id ORDER BY id) - 1 AS i
        FROM building WHERE tenant_id = $1)
    INSERT INTO dual_member_post (tenant_id, registration_id, person_id, community_id, street_id, kind, building_id,
        role, starts_on, created_by, created_at)
    SELECT $1, r.id, r.person_id, r.community_id, r.street_id, '{kind}', b.id, '', '2026-01-01', 'bench', now()
    FROM b JOIN r ON r.community_id = b.community_id AND r.i = (b.i + {shift}) % r.cnt WHERE {where}"""
      for kind, shift, where in (("online_building_head", 0, "b.i % 5 <> 0"),
                                 ("offline_building_head", 7, "b.i % 3 <> 0"))),
    """INSERT INTO dual_member_post (tenant_id, registration_id, person_id, community_id, street_id, kind, role,
        starts_on, created_by, created_at)
    SELECT $1, id, person_id, community_id, street_id, 'volunteer', '文明劝导', '2026-01-01', 'bench', now()
    FROM dual_member_registration WHERE tenant_id = $1 AND id % 4 = 0""",
]


async def seed() -> int:
    from tenants.scope import tenant_transaction
    from tenants.tenancy.service import create_tenant

    tenant = await create_tenant(slug=f"dual-bench-{int(time.time())}", name="基准测试市", preset="shuangluan")
    t = time.perf_counter()
    async with tenant_transaction(tenant.id) as conn:
        for sql in SEED:
            await conn.execute_query(sql, [tenant.id])
    print(f"seeded in {time.perf_counter() - t:.1f} s", flush=True)
    from tenants.db import connect

    conn = await connect(os.environ.get("DATABASE_OWNER_URL", os.environ["DATABASE_URL"]))
    try:
        for table in ("community", "building", "dual_member_post", "dual_member_registration",
                      "dual_unit_registration"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    return tenant.id


async def measure(tenant_id: int, runs: int) -> None:
    from tenants.dual import coverage
    from tenants.scope import tenant_transaction
    from tenants.tenancy.roles import Role
    from tenants.territory.access import Access
    from tenants.territory.models import Street

    async with tenant_transaction(tenant_id):
        street = await Street.filter(code="S1").first()
    assert street is not None
    nodes = {"street": frozenset({street.id})}
    officer = Access(roles=frozenset({Role.STREET_OFFICER}), nodes=nodes, staff_nodes=nodes)
    admin = Access(roles=frozenset({Role.TENANT_ADMIN}))
    cases = (("street (10 communities)", officer, 0.100), ("tenant (500 communities)", admin, None))
    for label, caller, limit in cases:
        times = []
        report = None
        for _ in range(runs):
            t = time.perf_counter()
            async with tenant_transaction(tenant_id):
                report = await coverage.coverage(access=caller)
            times.append(time.perf_counter() - t)
        assert report is not None
        times.sort()
        p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
        tot = report.total
        verdict = "" if limit is None else f"  limit {limit * 1000:.0f} ms: {'ok' if p95 <= limit else 'OVER'}"
        print(f"{label:26s} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms{verdict}")
        print(f"  {len(report.communities)} communities, {tot.buildings} buildings, online {tot.with_online_head},"
              f" offline {tot.with_offline_head}, any {tot.with_any_head}, none {tot.without_head},"
              f" members {tot.members}, units {tot.units}, posts {tot.posts_held}")
    async with tenant_transaction(tenant_id) as conn:
        params = [tenant_id, False, [], [street.id], None, None]
        rows = await conn.execute_query_dict(f"EXPLAIN (ANALYZE, BUFFERS) {coverage.SQL}", params)
    print("\n".join(r["QUERY PLAN"] for r in rows))


async def main(runs: int) -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    try:
        await measure(await seed(), runs)
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    run(main(parser.parse_args().runs), home_name="bench-dual")
