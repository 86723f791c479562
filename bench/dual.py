"""Benchmark: 双报到 (issue 18) at the city scale: 11,328 members, 500 communities, 50,000 activities in 2026.

Run: .venv/bin/python bench/dual.py [--per-member N] [--runs N] [--reuse] [--explain]
Uses the embedded PostgreSQL under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-dual), or DATABASE_URL and
DATABASE_OWNER_URL if set. ``--reuse`` measures the tenants a previous run seeded (their ids are kept beside the
embedded database) instead of seeding others; nothing measured changes the seeded data for good (the absence rule
and the close run in transactions rolled back), so one seed serves every later run.

Seeding (``tenants.demo.dual_dataset.seed_shuangluan_sized``, set-based, INSERT ... SELECT generate_series; under a
minute) a ``shuangluan`` tenant, the city: 25 streets of 20 communities (500), one grid and one compound a
community with 40 buildings each (20,000); 86 work units, each registered (approved) at a community and with a
contact; 11,328 party members approved at their communities (22 or 23 each), 7,394 of them building heads (online
or offline; 双滦's share, 1,188 of 1,820); 50,000 closed activities in 2026 (100 a community, at 19:00 and 10:00
in turn) and ``--per-member`` (20) sign-ups per member in their community, in date order (226,560): one member in
ten misses their last two, one in ten their first. Then the absence rule's case: two closed activities of a
community of the first street on 28 and 29 November 2026, each with the same 200 members of that street (none of
those whose last two sign-ups are absences): at the first the even half was absent (its rules ran), at the second
all 200 (its rules not run): so each has ~20 earlier sign-ups and the rule opens 100 talks, as part E's test.
VACUUM ANALYZE at the end. A second, small tenant seeded with the default 双滦 parameters (62 units, 1,820
members, 1,188 building heads, 28 communities, the year 2025) is the dataset check.

Measured (p50/p95 of ``--runs`` or more repetitions, the issue's limit and the ratio):
- the year-end report 2026 (``tenants.dual.year_end``, a tenant admin, each in its tenant transaction): every
  member's row (the CSV export's rows), the first page of 20, the first page of those below the minimum, the unit
  roll-up (86 units), and the CSV file of every member built as ``/exports/dual/members/2026.csv`` builds it;
  limit 2 s;
- the absence rule after the 200-participant activity: ``tenants.dual.rules.apply_absence_rules`` (the whole call:
  the row lock, the statement, the messages, the audit), and its statement alone, in a transaction rolled back
  after each run (timed inside it: commit excluded); limit 50 ms. Also ``closeActivity`` of that activity
  (``tenants.dual.activities.close``: the 200 sign-ups without attendance marked absent, then the rule, as the
  mutation runs it), the activity reopened and its attendance cleared in the same rolled-back transaction before
  the timer starts;
- coverage (``tenants.dual.coverage.coverage``) for a street officer of the first street (20 communities, 800
  buildings), limit 100 ms, and for the tenant admin (500 communities); each run timed around its tenant
  transaction (BEGIN, the statement, COMMIT), as part B's bench/dual_coverage.py did.
- the small tenant's coverage and year-end figures: the counts seed 004 gives (62 units, 1,820 members, 1,188
  building heads).
``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of the statements the year-end report (every member, the unit
roll-up), the absence rule (rolled back) and the street's coverage send.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import Rollback, Table, explain, run, sample  # noqa: E402

HOME_NAME = "bench-dual"
# 512 MB of shared buffers hold every table and index of the city (~150 MB) with room to spare.
SERVER = {"shared_buffers": "512MB"}
YEAR = 2026
CITY = dict(units=86, members=11_328, building_heads=7_394, communities=500, communities_per_street=20,
            activities=50_000, buildings_per_community=40, year=YEAR, prefix="bc")
LIMITS_MS = {"year_end": 2000.0, "rule": 50.0, "coverage": 100.0}
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)  # the rule runs the day after the activity (20:00 Beijing)
RULE_TITLE = "基准：200人活动"
PARTICIPANTS = 200

# Two activities of the first street's first community, 28 and 29 November 2026 19:00 Beijing, with the same 200
# members of that street ($1 tenant, $2 prefix, $3 now): at the first the even half absent (rules run), at the
# second everyone absent (rules not run).
RULE_CASE = [
    f"""INSERT INTO dual_activity (tenant_id, community_id, street_id, title, kind, place, starts_at, ends_at,
        capacity, posts_needed, outside_working_hours, status, checkin_key, created_by, created_at, closed_at,
        closed_by, rules_run_at)
    SELECT $1, c.id, c.street_id, '{RULE_TITLE}' || d, 'volunteer_service', '街道党群服务中心', t,
        t + interval '2 hours', {PARTICIPANTS}, '[]'::jsonb, true, 'closed', md5(random()::text), 'bench', $3,
        t + interval '2 hours', 'bench',
        CASE WHEN d = 1 THEN t + interval '2 hours' END
    FROM community c CROSS JOIN generate_series(1, 2) d
    CROSS JOIN LATERAL (SELECT (timestamp '2026-11-27 19:00' + d * interval '1 day') AT TIME ZONE 'Asia/Shanghai'
        AS t) x
    WHERE c.tenant_id = $1 AND c.code = $2 || 'C0'""",
    f"""WITH mem AS (
        SELECT r.id AS registration_id, r.person_id, row_number() OVER (ORDER BY g) AS i
        FROM (SELECT id, substr(user_id, length($2) + 4)::int AS g FROM person
              WHERE tenant_id = $1 AND user_id LIKE $2 || '-m-%') p
        JOIN dual_member_registration r ON r.tenant_id = $1 AND r.person_id = p.id AND r.status = 'approved'
        JOIN street s ON s.tenant_id = $1 AND s.id = r.street_id AND s.code = $2 || 'S0'
        WHERE p.g % 10 <> 9
    )
    INSERT INTO dual_signup (tenant_id, activity_id, person_id, registration_id, community_id, status, position, post,
        attendance, checked_in_at, checked_in_by, minutes, starts_at, outside_working_hours, created_at, updated_at)
    SELECT $1, a.id, mem.person_id, mem.registration_id, a.community_id, 'signed', NULL, '', v.attendance,
        CASE WHEN v.attendance = 'present' THEN a.starts_at END, CASE WHEN v.attendance = 'present' THEN 'bench' END,
        CASE WHEN v.attendance = 'present' THEN 120 ELSE 0 END, a.starts_at, a.outside_working_hours, $3, $3
    FROM mem JOIN dual_activity a ON a.tenant_id = $1 AND a.title LIKE '{RULE_TITLE}%'
    CROSS JOIN LATERAL (SELECT CASE WHEN a.title = '{RULE_TITLE}1' AND mem.i % 2 = 1 THEN 'present'
                                    ELSE 'absent' END AS attendance) v
    WHERE mem.i <= {PARTICIPANTS}""",
]

TABLES = ("street", "community", "grid", "compound", "building", "work_unit", "person", "post", "dual_activity",
          "dual_signup", "dual_member_registration", "dual_unit_registration", "dual_member_post",
          "dual_absence_case")


async def owner() -> Any:
    from tenants.db import connect

    return await connect(os.environ.get("DATABASE_OWNER_URL", os.environ["DATABASE_URL"]))


async def analyze() -> None:
    conn = await owner()
    try:
        for table in TABLES:
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


async def seed(per_member: int) -> dict[str, int]:
    from tenants.demo.dual_dataset import seed_shuangluan_sized
    from tenants.scope import tenant_context, tenant_transaction
    from tenants.tenancy.service import create_tenant

    stamp = int(time.time())
    city = await create_tenant(slug=f"dual-bench-{stamp}", name="双报到基准市", preset="shuangluan")
    t = time.perf_counter()
    with tenant_context(city.id):
        made = await seed_shuangluan_sized(**CITY, activities_per_member=per_member)  # type: ignore[arg-type]
    print(f"city seeded in {time.perf_counter() - t:.1f} s: {made.streets} streets, {made.communities} communities,"
          f" {made.buildings:,} buildings, {made.units} units, {made.members:,} members, {made.building_heads:,}"
          f" building heads, {made.activities:,} activities, {made.signups:,} sign-ups ({made.present:,} present,"
          f" {made.absent:,} absent), {made.members_below_minimum:,} below the minimum", flush=True)
    t = time.perf_counter()
    async with tenant_transaction(city.id) as conn:
        for sql in RULE_CASE:
            await conn.execute_query(sql, [city.id, CITY["prefix"], datetime.now(UTC)])
    print(f"the absence rule's case: 2 activities x {PARTICIPANTS} sign-ups in {time.perf_counter() - t:.1f} s",
          flush=True)
    small = await create_tenant(slug=f"dual-sl-{stamp}", name="承德市双滦区（基准）", preset="shuangluan")
    t = time.perf_counter()
    with tenant_context(small.id):
        checked = await seed_shuangluan_sized()
    print(f"双滦-sized tenant seeded in {time.perf_counter() - t:.1f} s ({checked.year})", flush=True)
    t = time.perf_counter()
    await analyze()
    print(f"vacuum analyze {time.perf_counter() - t:.1f} s", flush=True)
    return {"city": city.id, "small": small.id, "small_year": checked.year}


def seeded_file(per_member: int) -> Path:
    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / HOME_NAME))
    return home / f"seeded-{CITY['members']}-{CITY['activities']}-{per_member}.json"


# --- measuring ----------------------------------------------------------------------------------------------------


def admin() -> Any:
    from tenants.roles import Role
    from tenants.territory.access import Access

    return Access(roles=frozenset({Role.TENANT_ADMIN}), user_id="bench-admin")


async def year_end(table: Table, tid: int, runs: int, do_explain: bool) -> None:
    from api.dual import report_exports
    from tenants.dual import year_end as ye
    from tenants.paging import Window
    from tenants.scope import tenant_transaction

    caller = admin()
    got: dict[str, Any] = {}

    def timed(name: str, call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        async def once() -> None:
            async with tenant_transaction(tid):
                got[name] = await call()
        return once

    cases: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
        ("all", "year-end {y}: every member's row", lambda: ye.member_rows(access=caller, year=YEAR)),
        ("page", "year-end {y}: first page of 20 members",
         lambda: ye.member_rows(access=caller, year=YEAR, window=Window(limit=20))),
        ("below", "year-end {y}: first page of 20 below the minimum",
         lambda: ye.member_rows(access=caller, year=YEAR, window=Window(limit=20), below_minimum_only=True)),
        ("units", "year-end {y}: unit roll-up", lambda: ye.unit_rows(access=caller, year=YEAR)),
        ("csv", "year-end {y}: members CSV file built",
         lambda: report_exports._members(None, caller, str(YEAR), "csv")),  # type: ignore[arg-type]
    ]
    for name, label, call in cases:
        samples = await sample(timed(name, call), max(5, runs), warm=1)
        result = got[name]
        if name == "csv":
            note = f"{len(result[0]):,} bytes"
        else:
            rows = result.rows
            note = f"{len(rows):,} rows"
            if name == "all":
                note += (f"; participations {sum(r.participations for r in rows):,}, below the minimum"
                         f" {sum(r.below_minimum for r in rows):,}, talks {sum(r.talks for r in rows):,}")
            if name == "units":
                note += f"; members {sum(u.members for u in rows):,}, posts {sum(u.posts for u in rows):,}"
        table.add(label.format(y=YEAR), samples, "year_end", note)
    if do_explain:
        await explain(tid, "year-end: every member", lambda: ye.member_rows(access=caller, year=YEAR), "dual_signup")
        await explain(tid, "year-end: unit roll-up", lambda: ye.unit_rows(access=caller, year=YEAR), "dual_signup")


async def rule_case(tid: int) -> int:
    from tenants.scope import tenant_transaction

    async with tenant_transaction(tid) as conn:
        rows = await conn.execute_query_dict(
            "SELECT a.id, count(s.id) AS n, count(*) FILTER (WHERE s.attendance = 'absent') AS absent"
            " FROM dual_activity a JOIN dual_signup s ON s.tenant_id = a.tenant_id AND s.activity_id = a.id"
            " WHERE a.tenant_id = $1 AND a.title = $2 GROUP BY a.id", [tid, f"{RULE_TITLE}2"])
        activity = int(rows[0]["id"])
        past = await conn.execute_query_dict(
            "SELECT avg(c)::float AS avg, min(c) AS min, max(c) AS max FROM (SELECT count(*) AS c FROM dual_signup x"
            " WHERE x.tenant_id = $1 AND x.person_id IN (SELECT person_id FROM dual_signup WHERE tenant_id = $1"
            " AND activity_id = $2) AND x.activity_id <> $2 GROUP BY x.person_id) q", [tid, activity])
    p = past[0]
    print(f"the rule's activity {activity}: {rows[0]['n']} sign-ups, {rows[0]['absent']} absent; earlier sign-ups per"
          f" participant {p['avg']:.1f} (min {p['min']}, max {p['max']})", flush=True)
    return activity


async def absence_rule(table: Table, tid: int, runs: int, do_explain: bool) -> None:
    from tenants import clock
    from tenants.dual import activities, rules
    from tenants.dual.config import dual_config
    from tenants.dual.models import Signup
    from tenants.scope import tenant_transaction
    from tenants.tenancy.service import current_zone

    activity = await rule_case(tid)
    opened: list[dict[str, Any]] = []

    async def call() -> None:
        try:
            async with tenant_transaction(tid):
                t = time.perf_counter()
                opened.append(await rules.apply_absence_rules(activity, now=NOW, actor="bench"))
                took.append((time.perf_counter() - t) * 1000)
                raise Rollback
        except Rollback:
            pass

    took: list[float] = []
    for _ in range(max(30, runs * 3) + 3):
        await call()
    table.add(f"absence rule: apply_absence_rules, {PARTICIPANTS} absent", took[3:], "rule",
              f"{opened[-1]['talks']} talks, {opened[-1]['notices']} notices opened; rolled back")

    async with tenant_transaction(tid):
        today = clock.local_day(NOW, await current_zone())
        config = await dual_config(today)
        taken = await Signup.filter(activity_id=activity, status__in=["signed", "assigned"]).values_list(
            "person_id", "id")
    # The statement as tenants.dual.rules.apply_member_rules sends it for this activity's people and sign-ups.
    params = [tid, sorted({int(p) for p, _ in taken}), config.consecutive_absences_flag,
              config.notice_after_absences, today, config.talk_due_days, NOW, "bench", sorted(int(s) for _, s in taken)]
    took = []
    made: list[int] = []
    for _ in range(max(30, runs * 3) + 3):
        try:
            async with tenant_transaction(tid) as conn:
                t = time.perf_counter()
                made.append(len(await conn.execute_query_dict(rules.RULES_SQL, params)))
                took.append((time.perf_counter() - t) * 1000)
                raise Rollback
        except Rollback:
            pass
    table.add("absence rule: its statement alone", took[3:], "rule", f"{made[-1]} cases; rolled back")

    took = []
    for _ in range(max(20, runs * 2) + 2):
        try:
            async with tenant_transaction(tid) as conn:
                await conn.execute_query(
                    "UPDATE dual_activity SET status = 'open', closed_at = NULL, closed_by = NULL, rules_run_at = NULL"
                    " WHERE tenant_id = $1 AND id = $2", [tid, activity])
                await conn.execute_query(
                    "UPDATE dual_signup SET attendance = NULL, minutes = 0 WHERE tenant_id = $1 AND activity_id = $2",
                    [tid, activity])
                t = time.perf_counter()
                await activities.close(access=admin(), actor="bench", activity_id=activity)
                took.append((time.perf_counter() - t) * 1000)
                raise Rollback
        except Rollback:
            pass
    table.add(f"closeActivity (service): {PARTICIPANTS} unmarked -> absent + rule", took[2:], "rule",
              "rolled back; the rule's limit for reference")
    if do_explain:
        await explain(tid, "absence rule", lambda: rules.apply_absence_rules(activity, now=NOW, actor="bench"),
                      "dual_absence_case")


async def coverage(table: Table, tid: int, runs: int, do_explain: bool) -> None:
    from tenants.dual import coverage as cov
    from tenants.roles import Role
    from tenants.scope import tenant_transaction
    from tenants.territory.access import Access
    from tenants.territory.models import Street

    async with tenant_transaction(tid):
        street = await Street.filter(code=f"{CITY['prefix']}S0").first()
    assert street is not None
    nodes = {"street": frozenset({street.id})}
    officer = Access(roles=frozenset({Role.STREET_OFFICER}), nodes=nodes, staff_nodes=nodes)
    reports: dict[str, Any] = {}
    for name, label, caller, limit in (
        ("street", "coverage: a street (street officer)", officer, "coverage"),
        ("tenant", "coverage: the tenant (admin, 500 communities)", admin(), ""),
    ):
        async def once(caller: Any = caller, name: str = name) -> None:
            async with tenant_transaction(tid):
                reports[name] = await cov.coverage(access=caller)

        samples = await sample(once, max(30, runs * 3))
        r = reports[name]
        tot = r.total
        table.add(label, samples, limit,
                  f"{len(r.communities)} communities, {tot.buildings:,} buildings, any head {tot.with_any_head:,},"
                  f" none {tot.without_head:,}, members {tot.members:,}; incl. BEGIN/COMMIT")
    if do_explain:
        await explain(tid, "coverage: a street", lambda: cov.coverage(access=officer), "dual_member_post")


async def dataset_check(tid: int, year: int) -> None:
    """The small tenant's coverage and year-end figures: seed 004's counts."""
    from tenants.dual import coverage as cov
    from tenants.dual import year_end as ye
    from tenants.scope import tenant_transaction

    caller = admin()
    async with tenant_transaction(tid):
        report = await cov.coverage(access=caller)
        members = (await ye.member_rows(access=caller, year=year)).rows
        units = (await ye.unit_rows(access=caller, year=year)).rows
    tot = report.total
    got = (tot.units, tot.members, tot.with_any_head, len(units), sum(u.members for u in units),
           sum(u.posts for u in units), len(members))
    print(f"双滦-sized check ({year}): coverage units {tot.units}, members {tot.members:,}, buildings with a member"
          f" head {tot.with_any_head:,} (online {tot.with_online_head}, offline {tot.with_offline_head}) of"
          f" {tot.buildings:,}; year-end {len(units)} units, {sum(u.members for u in units):,} members,"
          f" {sum(u.posts for u in units):,} posts held, {len(members):,} member rows,"
          f" {sum(m.below_minimum for m in members)} below the minimum:"
          f" {'as seed 004' if got == (62, 1_820, 1_188, 62, 1_820, 1_188, 1_820) else 'NOT seed 004: ' + str(got)}",
          flush=True)


async def main(per_member: int, runs: int, reuse: bool, do_explain: bool) -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    try:
        marker = seeded_file(per_member)
        if reuse and marker.exists():
            ids = json.loads(marker.read_text())
            print(f"reusing tenants {ids} seeded with {CITY['members']:,} members, {CITY['activities']:,} activities,"
                  f" {per_member} sign-ups a member", flush=True)
        else:
            ids = await seed(per_member)
            marker.write_text(json.dumps(ids))
        table = Table(LIMITS_MS)
        await dataset_check(ids["small"], ids["small_year"])
        await coverage(table, ids["city"], runs, do_explain)
        await absence_rule(table, ids["city"], runs, do_explain)
        await year_end(table, ids["city"], runs, do_explain)
        table.print()
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-member", type=int, default=20, help="sign-ups per member in the year")
    parser.add_argument("--runs", type=int, default=10, help="repetitions of the year-end report (others: more)")
    parser.add_argument("--reuse", action="store_true", help="measure the tenants a previous run seeded")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the measured statements")
    args = parser.parse_args()
    run(main(args.per_member, args.runs, args.reuse, args.explain), home_name=HOME_NAME, server=SERVER)
