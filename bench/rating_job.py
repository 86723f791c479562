"""Benchmark: the quarterly rating job of a tenant with 3,000 compounds and 1,000,000 tickets.

Run: .venv/bin/python bench/rating_job.py [tickets] [--runs N] [--reuse]
Uses the embedded PostgreSQL under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-ratings), or DATABASE_URL and
DATABASE_OWNER_URL if set. A 张家口 (quarterly, three bodies) tenant gets, set-based (INSERT ... SELECT
generate_series): 10 streets, 100 communities, 600 grids, 3,000 compounds, 300 companies with one contract per
compound covering 2026; tickets opened over 2026Q3 (mostly closed, some resolved / rated / reopened / open /
rejected; one in twenty escalated), each carrying the rules JSON of one real ticket made by the service; the
2026Q3 round (opened by the service) with a scoring sheet from every body for every compound, built from the
effective configuration's rubric (plus corrections for 2 % of the sheets, 1 % entered late from paper), and a few
supervisor findings. Then ``ratings.compute(period_key="2026Q3")`` runs ``--runs`` times (the first creates the
draft, the others recompute it), each followed by the job's input aggregate alone (``inputs.INPUTS_SQL`` on a
plain asyncpg connection of the application role, in a tenant transaction): the raw limit. It prints each run
split into inputs, scoring and writing, and the medians of both as a ratio. ``--reuse`` measures the tenant a
previous run seeded (its id is kept beside the embedded database) instead of seeding another.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402
from bench._seed import territory  # noqa: E402

PERIOD = "2026Q3"
COMPOUNDS = 3000
COMPANIES = 300
CHUNK = 100_000
START = datetime(2026, 6, 30, 16, tzinfo=UTC)  # 2026-07-01 00:00 in Asia/Shanghai
SPAN_DAYS = 92  # July..September
NOW = datetime(2026, 10, 12, 2, tzinfo=UTC)  # after the submission window, when the job would run
OPEN_STATES = "('reported', 'dispatched', 'transferred', 'accepted', 'reopened')"

TERRITORY = [
    *territory(COMPOUNDS, COMPANIES),
    # One contract per compound for 2026; fees 60,000..259,000 yuan a year, so fee weighting matters.
    "INSERT INTO property_contract (tenant_id, company_id, compound_id, starts_on, ends_on, annual_fee_fen,"
    " reference, created_at, updated_at) SELECT $1, p.id, k.id, '2026-01-01', '2026-12-31',"
    " 6000000 + abs(hashint8extended(k.id, 9)) % 200 * 100000, '', now(), now()"
    " FROM compound k JOIN property_company p ON p.tenant_id = $1"
    f" AND p.credit_code = '9113' || lpad((substr(k.code, 2)::int % {COMPANIES})::text, 6, '0')"
    " WHERE k.tenant_id = $1",
]

# $1 tenant, $2..$3 the chunk of generate_series, $4 first instant, $5 tickets in all, $6 the real ticket.
# Each compound has a quality q (0..9) that moves its on-time and reopening shares, so the objective part varies.
TICKETS = f"""
WITH k AS (
    SELECT row_number() OVER (ORDER BY c.id) - 1 AS n, c.id, c.street_id, c.community_id, c.grid_id,
           pc.company_id, abs(hashint8extended(c.id, 5)) % 10 AS q
    FROM compound c JOIN property_contract pc ON pc.tenant_id = $1 AND pc.compound_id = c.id
    WHERE c.tenant_id = $1
), h AS (
    SELECT g, abs(hashint8extended(g, 1)) AS h1, abs(hashint8extended(g, 2)) AS h2,
           abs(hashint8extended(g, 3)) % 100 AS s, abs(hashint8extended(g, 4)) AS h4
    FROM generate_series($2::bigint, $3::bigint) g
), x AS (
    SELECT g, h4, $4::timestamptz + (g::float8 / ($5 + 1)) * interval '{SPAN_DAYS} days' AS opened,
           h1 % {COMPOUNDS} AS kn, h2 % 10 AS u,
           CASE WHEN s < 3 THEN 'rejected' WHEN s < 5 THEN 'reported' WHEN s < 7 THEN 'dispatched'
                WHEN s < 12 THEN 'accepted' WHEN s < 14 THEN 'reopened' WHEN s < 22 THEN 'resolved'
                WHEN s < 25 THEN 'rated' ELSE 'closed' END AS state
    FROM h
), y AS (
    SELECT x.*, k.*,
           CASE WHEN x.state IN ('rejected', 'reported') THEN NULL
                WHEN x.u < 7 THEN 'property_company' WHEN x.u < 9 THEN 'community' ELSE 'street' END AS akind
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
    (y.h4 % 20 = 0 AND y.akind IS NOT NULL)::int, (y.state = 'reopened' OR y.h4 % (12 + 2 * y.q) = 0)::int,
    CASE y.state WHEN 'closed' THEN 4 + y.h4 % 2 WHEN 'rated' THEN 4 + y.h4 % 2 WHEN 'reopened' THEN 1 + y.h4 % 3
    END,
    CASE WHEN y.state IN ('closed', 'rated', 'reopened') THEN y.state <> 'reopened' END,
    CASE WHEN y.state IN ('resolved', 'rated', 'closed') THEN y.h4 % (4 + y.q) <> 0 END,
    real.rules, real.config_version, y.opened,
    CASE WHEN y.akind IS NOT NULL THEN y.opened + interval '1 hour' END,
    CASE WHEN y.state IN ('resolved', 'rated', 'closed') THEN y.opened + (2 + y.h4 % 70) * interval '1 hour' END,
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

# $1 tenant, $2 round, $3 rubric [{body, code, max_points}] as JSON text, $4 submitted at, $5 revision,
# $6 share (percent) of compounds that get this revision. Points: 55..100 % of each item's maximum, by compound
# and item; a compound's bodies lean the same way (its own level), so compounds differ. 1 % are late paper entries.
SUBMISSIONS = """
WITH r AS (SELECT * FROM jsonb_to_recordset($3::text::jsonb) AS r(body text, code text, max_points int))
INSERT INTO score_submission (tenant_id, round_id, compound_id, body_code, revision, scores, notes, reason,
    submitted_by, submitted_at, late_entry)
SELECT $1, $2, k.id, r.body, $5::int,
       jsonb_object_agg(r.code, r.max_points * (55 + (abs(hashint8extended(k.id, 11)) % 30
           + abs(hashint8extended(k.id * 131 + hashtext(r.code) + $5::int, 12)) % 16)) / 100),
       '{}', CASE WHEN $5::int > 1 THEN '复核更正' ELSE '' END, 'bench-' || r.body, $4,
       abs(hashint8extended(k.id * 7 + hashtext(r.body), 14)) % 100 = 0
FROM compound k CROSS JOIN r
WHERE k.tenant_id = $1 AND ($6::int >= 100 OR abs(hashint8extended(k.id, 13)) % 100 < $6::int)
GROUP BY k.id, r.body
"""

# $1 tenant, $2 first instant. 600 findings on 500 compounds, most resolved within the 24 hours, some late.
FINDINGS = f"""
INSERT INTO supervisor_finding (tenant_id, compound_id, description, photo_url, found_at, resolve_by,
    resolved_at, recorded_by)
SELECT $1, k.id, '监督员发现问题', '', f.at, f.at + interval '24 hours',
       CASE WHEN g % 5 = 0 THEN NULL WHEN g % 5 = 1 THEN f.at + interval '40 hours'
            ELSE f.at + (1 + g % 20) * interval '1 hour' END, 'supervisor'
FROM generate_series(0, 599) g
CROSS JOIN LATERAL (SELECT $2::timestamptz + (g % {SPAN_DAYS}) * interval '1 day' + interval '3 hours' AS at) f
JOIN compound k ON k.tenant_id = $1 AND k.code = 'K' || ((g * 7 % {COMPOUNDS}) % 500 * 6)
"""


async def seed(n: int) -> int:
    from tenants.assessment.rounds import open_round, period_config
    from tenants.scope import tenant_context, tenant_transaction
    from tenants.tenancy.roles import Role
    from tenants.tenancy.service import create_tenant
    from tenants.territory.access import SYSTEM, Access
    from tenants.tickets import intake

    tenant = await create_tenant(slug=f"rating-bench-{int(time.time())}", name="评级基准市", preset="zhangjiakou")
    t = time.perf_counter()
    async with tenant_transaction(tenant.id) as conn:
        for sql in TERRITORY:
            await conn.execute_query(sql, [tenant.id])
        rows = await conn.execute_query_dict("SELECT min(id) AS k FROM compound WHERE tenant_id = $1", [tenant.id])
    with tenant_context(tenant.id):
        admin = Access(roles=frozenset({Role.TENANT_ADMIN}), user_id="bench")
        real = await intake.report(
            access=admin,
            actor="bench",
            item_code="corridor_clutter",
            description="楼道堆物",
            compound_id=rows[0]["k"],
            now=START,
        )
    print(f"territory: {COMPOUNDS:,} compounds, {COMPANIES} companies in {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    for lo in range(1, n + 1, CHUNK):
        hi = min(lo + CHUNK - 1, n)
        async with tenant_transaction(tenant.id) as conn:
            await conn.execute_query(TICKETS, [tenant.id, lo, hi, START, n, real.id])
        print(f"  tickets {hi:>9,} ({time.perf_counter() - t:.0f} s)", flush=True)
    async with tenant_transaction(tenant.id) as conn:
        await conn.execute_query(ESCALATIONS, [tenant.id])
    print(f"tickets seeded in {time.perf_counter() - t:.0f} s")

    t = time.perf_counter()
    async with tenant_transaction(tenant.id):
        rnd = await open_round(access=SYSTEM, actor="bench", period_key=PERIOD, now=START)
        doc, _ = await period_config(PERIOD)
    rubric = json.dumps(
        [{"body": i.body, "code": i.code, "max_points": i.max_points} for i in doc.assessment.rubric if i.body]
    )
    submitted = datetime(2026, 10, 5, 2, tzinfo=UTC)
    async with tenant_transaction(tenant.id) as conn:
        await conn.execute_query(SUBMISSIONS, [tenant.id, rnd.id, rubric, submitted, 1, 100])
        await conn.execute_query(SUBMISSIONS, [tenant.id, rnd.id, rubric, submitted, 2, 2])
        await conn.execute_query(FINDINGS, [tenant.id, START])
        counts = await conn.execute_query_dict(
            "SELECT (SELECT count(*) FROM ticket WHERE tenant_id = $1) AS tickets,"
            " (SELECT count(*) FROM escalation WHERE tenant_id = $1) AS escalations,"
            " (SELECT count(*) FROM score_submission WHERE tenant_id = $1) AS sheets,"
            " (SELECT count(*) FROM supervisor_finding WHERE tenant_id = $1) AS findings,"
            " (SELECT string_agg(state || ' ' || c, ', ' ORDER BY c DESC) FROM (SELECT state, count(*) AS c"
            "   FROM ticket WHERE tenant_id = $1 GROUP BY state) s) AS states",
            [tenant.id],
        )
    c = counts[0]
    print(
        f"round {PERIOD}: {c['sheets']:,} scoring sheets ({len(doc.assessment.bodies)} bodies,"
        f" {len(doc.assessment.rubric)} rubric items), {c['findings']} findings in {time.perf_counter() - t:.1f} s"
    )
    print(f"seeded {c['tickets']:,} tickets, {c['escalations']:,} escalations: {c['states']}")
    return tenant.id


async def analyze() -> None:
    from tenants.db import connect

    conn = await connect(os.environ.get("DATABASE_OWNER_URL", os.environ["DATABASE_URL"]))
    try:
        for table in (
            "ticket",
            "escalation",
            "score_submission",
            "supervisor_finding",
            "property_contract",
            "compound",
            "compound_rating",
            "company_rating",
            "rating_snapshot",
        ):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


def seeded_file(n: int) -> Path:
    """Where a finished seed of ``n`` tickets leaves its tenant id (beside the embedded database)."""
    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / "bench-ratings"))
    return home / f"seeded-{n}.txt"


class Clock:
    """Wall time spent inside wrapped callables, by label; a call inside another of the same label counts once."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.active: set[str] = set()

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @wraps(fn)
            async def coro(*args: Any, **kwargs: Any) -> Any:
                if label in self.active:
                    return await fn(*args, **kwargs)
                self.active.add(label)
                t = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self.spent[label] += time.perf_counter() - t
                    self.active.discard(label)

            return coro

        @wraps(fn)
        def sync(*args: Any, **kwargs: Any) -> Any:
            if label in self.active:
                return fn(*args, **kwargs)
            self.active.add(label)
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - t
                self.active.discard(label)

        return sync


# The job's phases, by the module attributes that run them (looked up at call time); those a version of
# ratings.py does not have are skipped, so the same bench times the code before and after issue 15.
PHASES = (
    ("inputs", "tenants.assessment.ratings", "_inputs"),
    ("inputs", "tenants.assessment.ratings", "compound_inputs"),
    ("scoring", "tenants.assessment.ratings", "score_compound"),
    ("scoring", "tenants.assessment.ratings", "combine_company"),
    ("writing", "tenants.assessment.models", "CompoundRating.bulk_create"),
    ("writing", "tenants.assessment.models", "CompanyRating.bulk_create"),
    # Since issue 15 the compounds are scored while COPY streams them: one phase.
    ("scoring and writing", "tenants.assessment.ratings", "write_ratings"),
)


def instrument(clock: Clock) -> None:
    """Wrap each phase's callable to time it; no behaviour change."""
    for label, module_name, attr in PHASES:
        owner: Any = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        if hasattr(owner, name):
            setattr(owner, name, clock.wrap(label, getattr(owner, name)))


async def aggregate(conn: Any, tenant_id: int, params: list) -> float:
    """The raw limit: the job's input aggregate alone, on a plain asyncpg connection of the application role, in
    the same kind of tenant transaction (BEGIN, enter the tenant, the statement, COMMIT)."""
    from tenants.assessment.inputs import INPUTS_SQL

    t = time.perf_counter()
    async with conn.transaction():
        await conn.execute("SELECT civicgrid_enter_tenant($1)", tenant_id)
        rows = await conn.fetch(INPUTS_SQL, *params)
    elapsed = time.perf_counter() - t
    assert len(rows) == COMPOUNDS, len(rows)
    return elapsed


async def measure(tenant_id: int, runs: int) -> None:
    from tenants.assessment import ratings
    from tenants.assessment.inputs import inputs_params
    from tenants.assessment.models import CompanyRating, CompoundRating
    from tenants.db import connect
    from tenants.scope import tenant_context, tenant_transaction
    from tenants.territory.access import SYSTEM

    clock = Clock()
    instrument(clock)
    gc.collect()  # as the worker does after its start-up (jobs/worker.py)
    gc.freeze()
    async with tenant_transaction(tenant_id):
        params = await inputs_params(PERIOD)
    raw = await connect(os.environ["DATABASE_URL"])
    jobs: list[float] = []
    aggs: list[float] = []
    try:
        await aggregate(raw, tenant_id, params)  # warm the cache as the job's first run finds it
        for i in range(1, runs + 1):
            clock.spent.clear()
            t = time.perf_counter()
            with tenant_context(tenant_id):
                snap = await ratings.compute(access=SYSTEM, period_key=PERIOD, actor="bench", now=NOW)
            jobs.append(time.perf_counter() - t)
            aggs.append(await aggregate(raw, tenant_id, params))
            async with tenant_transaction(tenant_id):
                compounds = await CompoundRating.filter(snapshot_id=snap.id).count()
                companies = await CompanyRating.filter(snapshot_id=snap.id).count()
            s, total = clock.spent, jobs[-1]
            both = s["scoring and writing"] or s["scoring"] + s["writing"]
            other = total - s["inputs"] - both
            kind = "new draft" if i == 1 and snap.revision == 1 else "recompute"
            print(
                f"run {i} ({kind}, snapshot {snap.id}, {compounds:,} compound / {companies} company ratings):"
                f" job {total:.2f} s = inputs {s['inputs']:.2f} + scoring and writing {both:.2f}"
                + ("" if s["scoring and writing"] else f" (scoring {s['scoring']:.2f}, writing {s['writing']:.2f})")
                + f" + other {other:.2f}; aggregate alone {aggs[-1]:.2f} s",
                flush=True,
            )
    finally:
        await raw.close()
    job, agg = statistics.median(jobs), statistics.median(aggs)
    print(
        f"rating job, {COMPOUNDS:,} compounds: job {job:.2f} s vs aggregate {agg:.2f} s (medians of {runs},"
        f" interleaved): {job / agg:.1f}x the aggregate"
    )


async def main(n: int, runs: int, reuse: bool) -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    try:
        marker = seeded_file(n)
        if reuse and marker.exists():
            tenant_id = int(marker.read_text())
            print(f"reusing tenant {tenant_id} seeded with {n:,} tickets")
        else:
            tenant_id = await seed(n)
            t = time.perf_counter()
            await analyze()
            print(f"vacuum analyze {time.perf_counter() - t:.1f} s")
            marker.write_text(str(tenant_id))
        await measure(tenant_id, runs)
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tickets", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="job and aggregate runs, interleaved")
    parser.add_argument("--reuse", action="store_true", help="measure the tenant a previous run seeded")
    args = parser.parse_args()
    run(main(args.tickets, args.runs, args.reuse), home_name="bench-ratings")
