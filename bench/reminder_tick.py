"""Benchmark: the reminder tick with a million open tickets in one tenant.

Run: .venv/bin/python bench/reminder_tick.py [tickets] [burst]
Uses the embedded PostgreSQL under .civicgrid/bench-reminders (or $CIVICGRID_BENCH_HOME, or DATABASE_URL and
DATABASE_OWNER_URL if set). A 张家口 tenant gets ``tickets`` open tickets (default 1,000,000), inserted set-based
with the rules snapshot of a real ticket and due dates spread evenly over 60 days (T0 - 30 d .. T0 + 30 d), about
12 due per minute. It prints:

1. steady state: ticks minute by minute from the start of the spread (each minute ~12 tickets come due soon and
   ~12 become overdue and are escalated), with the EXPLAIN ANALYZE of both due-ticket queries;
2. a burst minute: ``burst`` extra tickets (default 1,000) due in the same minute, all escalated by one tick;
3. a backlog: a tick at T0, when half the tickets (never escalated, as after a long outage) are overdue: it
   escalates one batch, oldest first, and leaves the rest to the next ticks.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402

T0 = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
SPREAD_MINUTES = 60 * 24 * 60  # 60 days
CHUNK = 100_000


class _Rollback(Exception):
    pass


async def setup(tickets: int) -> tuple[int, int]:
    """A tenant with a little territory, a community worker and street officer, and one real ticket."""
    from tenants.scope import tenant_context
    from tenants.tenancy.roles import Role
    from tenants.tenancy.service import create_tenant, get_tenant_by_slug
    from tenants.territory import people_service as people
    from tenants.territory import service as territory
    from tenants.territory.access import Access
    from tenants.territory.people import PostKind
    from tenants.tickets import intake

    admin = Access(roles=frozenset({Role.TENANT_ADMIN}), user_id="bench")
    slug = f"bench-{int(time.time())}"
    await create_tenant(slug=slug, name="基准测试", preset="zhangjiakou")
    tenant = await get_tenant_by_slug(slug)
    assert tenant is not None
    with tenant_context(tenant.id):
        ids: dict[str, int] = {}
        parent = None
        for level in ("street", "community", "grid", "compound", "building", "household"):
            node = await territory.create_area(level, access=admin, actor="bench", code="1", name=level,
                                               parent_id=parent)
            ids[level] = parent = node.id
        for user, kind, target in (("cw", PostKind.COMMUNITY_WORKER, "community"),
                                   ("so", PostKind.STREET_OFFICER, "street")):
            person = await people.create_person(access=admin, actor="bench", user_id=user, name=user)
            await people.assign_post(access=admin, actor="bench", person_id=person.id, kind=kind,
                                     target_kind=target, target_id=ids[target], starts_on=date(2026, 1, 1))
        resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["household"]})},
                          user_id="res")
        template = await intake.report(access=resident, actor="res", item_code="noise", description="噪音扰民",
                                        household_id=ids["household"], now=T0 - timedelta(days=31))
    return tenant.id, template.id


def _insert_sql(columns: list[str]) -> str:
    """Copy the template ticket's columns, overriding state, assignee, clock and reporter per row."""
    community_step = "g % 3 <> 0"  # two in three already dispatched to (and accepted by) the community
    # 7919 is prime to the 86,400 minutes of the spread: every minute gets its share, in scrambled order.
    minute = "$2::timestamptz + ((g::bigint * 7919) % $3::int) * interval '1 minute'"
    overrides = {
        "state": f"CASE WHEN {community_step} THEN 'accepted' ELSE 'reported' END",
        "assignee_kind": f"CASE WHEN {community_step} THEN 'community' END",
        "assignee_id": f"CASE WHEN {community_step} THEN tpl.community_id END",
        "step_seq": f"CASE WHEN {community_step} THEN 2 ELSE 1 END",
        "due_at": f"{minute} + (g % 60) * interval '1 second'",
        "opened_at": f"{minute} - interval '3 days'",
        "reporter_user_id": "'res-' || (g % 5000)",
        "entered_by": "'res-' || (g % 5000)",
        "updated_at": "now()",
    }
    cols = [c for c in columns if c != "id"]
    select = ", ".join(overrides.get(c, f"tpl.{c}") for c in cols)
    return (f"INSERT INTO ticket ({', '.join(cols)}) SELECT {select} FROM ticket tpl, "
            f"generate_series($4::int, $5::int) g WHERE tpl.id = $1::bigint")


async def fill(tenant_id: int, template_id: int, tickets: int, start: datetime, spread: int, first: int = 1) -> None:
    from tenants.scope import tenant_transaction

    async with tenant_transaction(tenant_id) as conn:
        rows = await conn.execute_query_dict(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'ticket' ORDER BY ordinal_position"
        )
    sql = _insert_sql([r["column_name"] for r in rows])
    for lo in range(first, first + tickets, CHUNK):
        hi = min(lo + CHUNK - 1, first + tickets - 1)
        async with tenant_transaction(tenant_id) as conn:
            await conn.execute_query(sql, [template_id, start, spread, lo, hi])


async def explain(tenant_id: int, now: datetime) -> None:
    """EXPLAIN ANALYZE both claims, rolled back so the measured ticks still find their work."""
    from tenants.scope import tenant_transaction
    from tenants.tickets.scheduled import DUE_SOON_SQL, OVERDUE_SQL

    for label, sql, params in (
        ("due soon", DUE_SOON_SQL, [tenant_id, now, now + timedelta(minutes=30), 30]),
        ("overdue", OVERDUE_SQL, [tenant_id, now]),
    ):
        try:
            async with tenant_transaction(tenant_id) as conn:
                plan = await conn.execute_query_dict("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                raise _Rollback
        except _Rollback:
            pass
        print(f"  EXPLAIN {label}:")
        for row in plan:
            line = row["QUERY PLAN"]
            if "Buffers" not in line:
                print("   ", line)


async def timed_tick(tenant_id: int, at: datetime) -> tuple[float, dict]:
    from tenants.scope import tenant_context
    from tenants.tickets.scheduled import tick

    with tenant_context(tenant_id):
        t = time.perf_counter()
        counts = await tick(now=at)
        return time.perf_counter() - t, counts


async def main(tickets: int, burst: int) -> None:
    from tortoise import Tortoise

    from tenants.db import connect, tortoise_config

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    tenant_id, template_id = await setup(tickets)
    start = T0 - timedelta(days=30)
    t = time.perf_counter()
    await fill(tenant_id, template_id, tickets, start, SPREAD_MINUTES)
    owner = await connect(os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"])
    await owner.execute("ANALYZE ticket; ANALYZE reminder_sent")
    print(f"inserted {tickets:,} open tickets in {time.perf_counter() - t:.1f} s "
          f"(due {start:%Y-%m-%d} .. {start + timedelta(minutes=SPREAD_MINUTES):%Y-%m-%d}, "
          f"~{tickets / SPREAD_MINUTES:.1f} per minute)")

    print("1. steady state, one tick per minute from the start of the spread:")
    first, counts = await timed_tick(tenant_id, start)
    print(f"  first tick (the whole 30-minute lead window at once): {first * 1000:.0f} ms {counts}")
    await explain(tenant_id, start + timedelta(minutes=1))
    times, escalated, reminded = [], 0, 0
    for m in range(1, 31):
        took, counts = await timed_tick(tenant_id, start + timedelta(minutes=m))
        times.append(took)
        escalated += counts["escalated"]
        reminded += counts["due_soon"]
    print(f"  30 ticks: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
          f"per tick ~{reminded / 30:.1f} due-soon reminders and ~{escalated / 30:.1f} escalations")

    print(f"2. a burst: {burst:,} more tickets due in one minute:")
    at = start + timedelta(hours=2)
    await fill(tenant_id, template_id, burst, at - timedelta(minutes=1), 1, first=tickets + 1)
    await owner.execute("ANALYZE ticket")
    for m in range(31, 120):  # the steady ticks up to the burst, unmeasured
        await timed_tick(tenant_id, start + timedelta(minutes=m))
    took, counts = await timed_tick(tenant_id, at)
    print(f"  tick: {took:.2f} s {counts}")

    print("3. a backlog: a tick at T0, the middle of the spread, with half the tickets overdue and never escalated:")
    took, counts = await timed_tick(tenant_id, T0)
    print(f"  tick: {took:.2f} s {counts}")
    await explain(tenant_id, T0 + timedelta(minutes=1))
    await owner.close()
    await Tortoise.close_connections()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    b = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    run(main(n, b), home_name="bench-reminders")
