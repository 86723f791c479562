"""Benchmark: points reads and the nightly points run in a tenant with 200,000 people and 1,000,000 lots.

Run: .venv/bin/python bench/points_nightly.py [people] [lots_per_person]
Uses the embedded PostgreSQL under .civicgrid/bench-points (or $CIVICGRID_BENCH_HOME, or DATABASE_URL and
DATABASE_OWNER_URL if set). A 三百 (sanbai, 12-month expiry) tenant gets ``people`` people (default 200,000), each
with ``lots_per_person`` awards (default 5) spread over 2025, inserted set-based (entries and lots; the balance
trigger runs once per chunk). It prints:

1. a balance read (``reads.balance``, each in its own tenant transaction, as pointsBalance): median and p95;
2. a history page (20 newest of one person, keyset): median;
3. the warning pass alone over every live lot (one message per person, the lots marked), rolled back;
4. the nightly run on 2027-01-02 (Beijing), when every lot is due: ``expire_due`` + the warning pass;
5. the same run again (nothing left to do).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402

CHUNK = 50_000  # people per insert
AT = datetime(2027, 1, 1, 18, 30, tzinfo=UTC)  # 02:30 on 2 January 2027 in Beijing


class _Rollback(Exception):
    pass


PEOPLE_SQL = """
INSERT INTO person (tenant_id, user_id, name, phone, is_party_member, created_at, updated_at)
SELECT $1, 'bench-' || g, '居民' || g, '', false, now(), now() FROM generate_series($2::int, $3::int) g
"""
AWARDS_SQL = """
WITH src AS (
    SELECT p.id AS person_id, k, DATE '2025-01-01' + ((p.id * 7 + k * 53) % 365)::int AS day
    FROM person p, generate_series(1, $4::int) k
    WHERE p.tenant_id = $1 AND p.id BETWEEN $2 AND $3
), e AS (
    INSERT INTO points_entry (tenant_id, person_id, kind, amount, rule_code, source_kind, source_ref, reason,
                              evidence, author, occurred_on, created_at, idempotency_key)
    SELECT $1, person_id, 'award', 5, 'volunteer_service', 'manual', 'bench-' || person_id || '-' || k, '', '[]',
           'bench', day, now(), 'award:volunteer_service:' || person_id || ':manual:bench-' || k
    FROM src
    RETURNING id, person_id, amount, occurred_on
)
INSERT INTO points_lot (tenant_id, person_id, entry_id, amount, remaining, earned_on, expires_on)
SELECT $1, person_id, id, amount, amount, occurred_on, (occurred_on + interval '12 months')::date FROM e
"""


async def setup(people: int, per_person: int) -> tuple[int, list[int]]:
    from tenants.scope import tenant_transaction
    from tenants.tenancy.service import create_tenant, get_tenant_by_slug

    slug = f"bench-points-{int(time.time())}"
    await create_tenant(slug=slug, name="积分基准", preset="sanbai")
    tenant = await get_tenant_by_slug(slug)
    assert tenant is not None
    for lo in range(1, people + 1, CHUNK):
        hi = min(lo + CHUNK - 1, people)
        async with tenant_transaction(tenant.id) as conn:
            await conn.execute_query(PEOPLE_SQL, [tenant.id, lo, hi])
    async with tenant_transaction(tenant.id) as conn:
        ids = [r["id"] for r in await conn.execute_query_dict("SELECT id FROM person ORDER BY id")]
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        async with tenant_transaction(tenant.id) as conn:
            await conn.execute_query(AWARDS_SQL, [tenant.id, part[0], part[-1], per_person])
    return tenant.id, ids


async def timed(tenant_id: int, work, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    from tenants.scope import tenant_transaction

    times = []
    for i in range(n):
        t = time.perf_counter()
        async with tenant_transaction(tenant_id):
            await work(i)
        times.append(time.perf_counter() - t)
    return times


async def main(people: int, per_person: int) -> None:
    from tortoise import Tortoise

    from tenants.db import connect, tortoise_config
    from tenants.paging import Window
    from tenants.points import ledger, reads, scheduled
    from tenants.scope import tenant_transaction
    from tenants.territory.access import SYSTEM

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    t = time.perf_counter()
    tenant_id, ids = await setup(people, per_person)
    owner = await connect(os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"])
    await owner.execute("ANALYZE person; ANALYZE points_entry; ANALYZE points_lot; ANALYZE points_balance")
    print(f"inserted {len(ids):,} people and {len(ids) * per_person:,} awards and lots in "
          f"{time.perf_counter() - t:.1f} s")

    step = max(1, len(ids) // 1000)
    balance = await timed(tenant_id, lambda i: reads.balance(SYSTEM, ids[(i * step) % len(ids)]), 1000)
    print(f"1. balance read: median {statistics.median(balance) * 1000:.2f} ms, "
          f"p95 {sorted(balance)[949] * 1000:.2f} ms (1,000 people)")
    history = await timed(tenant_id, lambda i: reads.history(SYSTEM, ids[(i * step) % len(ids)],
                                                             Window(limit=21)), 200)
    print(f"2. history page (20): median {statistics.median(history) * 1000:.2f} ms")

    try:
        async with tenant_transaction(tenant_id):
            t = time.perf_counter()
            warned = await scheduled.warn(date(2026, 1, 1), 400, at=AT)
            took = time.perf_counter() - t
            raise _Rollback
    except _Rollback:
        pass
    print(f"3. warning pass over every live lot: {warned:,} people told in {took:.2f} s (rolled back)")

    for label in ("4. nightly run, every lot due", "5. the same run again"):
        async with tenant_transaction(tenant_id):
            t = time.perf_counter()
            result = await scheduled.nightly(now=AT)
            took = time.perf_counter() - t
        print(f"{label}: {took:.2f} s {result}")
    async with tenant_transaction(tenant_id):
        t = time.perf_counter()
        mismatches = await ledger.verify()
        print(f"pointsCheck: {len(mismatches)} mismatches in {time.perf_counter() - t:.2f} s")
    await owner.close()
    await Tortoise.close_connections()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    run(main(n, k), home_name="bench-points")
