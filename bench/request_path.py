"""The request path against its physical limit (issue 15), in one run, on embedded PostgreSQL:

- statements per request for `me`, `tickets(first: 10)`, `tickets(first: 100)` and `reportTicket`, counted from
  PostgreSQL's own log (``log_statement = all``, the application role only: BEGIN, COMMIT, scope and pool resets
  included), for civicgrid and for the raw limit;
- p50/p99 over HTTP of each, civicgrid (a real `civicgrid api` process) beside the raw limit (asyncpg with the
  same transaction, the same tenant ``set_config`` and orjson, behind the same uvicorn), interleaved rounds, the
  ratio of the medians;
- intake (`reportTicket`) throughput at concurrency 1, 8 and 32 with p50/p99, civicgrid and raw, loaded by wrk
  (Debian's package; `--load python` for httpx, which at 32 clients spends the cores it measures on itself), every
  answer checked by the tickets it made. With CIVICGRID_API_WORKERS=2 the API's CPU column reads the supervisor
  (0.00).

Run: .venv/bin/python bench/request_path.py [--root CHECKOUT] [--rounds 5] [--seconds 5] [--load auto|wrk|python]
``--root`` benchmarks another checkout's API (its own .venv/bin/python), e.g. main's, for a before/after.
Home: $CIVICGRID_BENCH_HOME or .civicgrid/bench-request-path, made afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _raw  # noqa: E402

ME = "{ me { roles tenant { slug name } } }"
TICKETS = "query($n: Int!) { tickets(first: $n) { edges { node { id state itemTitle openedAt } } } }"
REPORT = "mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id } }"
OPS = ("me", "tickets10", "tickets100", "reportTicket")

# The raw limit: the same transaction shape with asyncpg and orjson, no GraphQL and no ORM.
RAW_SQL = {
    "me": "SELECT slug, name FROM tenant WHERE id = $1",
    "tickets": "SELECT id, state, item_code, opened_at FROM ticket ORDER BY id DESC LIMIT $1",
    "ticket": (
        "INSERT INTO ticket (category_code, item_code, description, photos, contact, channel, street_id,"
        " community_id, grid_id, compound_id, building_id, household_id, address, reporter_user_id, entered_by,"
        " state, assignee_kind, assignee_id, step_seq, due_at, sla_due_at, escalation_level, escalations, reopened,"
        " rules, config_version, opened_at, updated_at, tenant_id)"
        " SELECT category_code, item_code, $2, photos, contact, channel, street_id, community_id, grid_id,"
        " compound_id, building_id, household_id, address, reporter_user_id, entered_by, state, assignee_kind,"
        " assignee_id, step_seq, due_at, sla_due_at, escalation_level, escalations, reopened, rules, config_version,"
        " now(), now(), tenant_id FROM ticket WHERE id = $1 RETURNING id"
    ),
    "event": (
        "INSERT INTO ticket_event (ticket_id, at, actor, action, from_state, to_state, note, attachments, details,"
        " tenant_id) VALUES ($1, now(), 'raw', 'report', NULL, 'reported', '', '[]', '{}',"
        " current_setting('app.tenant_id')::bigint) RETURNING id"
    ),
}


def raw_app(dsn: str, tenant_id: int, template_ticket: int) -> Any:
    """The three operations on their raw SQL (bench/_raw.py): ``me``, a ``tickets`` page, a report."""

    async def answer(conn: Any, request: dict[str, Any]) -> Any:
        op, variables = request["op"], request.get("variables") or {}
        if op == "me":
            return {"me": {"tenant": dict(await conn.fetchrow(RAW_SQL["me"], tenant_id))}}
        if op == "tickets":
            rows = await conn.fetch(RAW_SQL["tickets"], variables["n"])
            return {"tickets": {"edges": [{"node": {**dict(r), "id": str(r["id"])}} for r in rows]}}
        ticket = await conn.fetchval(RAW_SQL["ticket"], template_ticket, variables["description"])
        await conn.fetchval(RAW_SQL["event"], ticket)
        return {"reportTicket": {"id": str(ticket)}}

    return _raw.raw_app(dsn, tenant_id, answer, pool_size=20)


def serve_raw(port: int, dsn: str, tenant_id: int, template_ticket: int) -> None:
    import uvicorn

    from api.server import uvicorn_options
    from tenants.settings import get_settings

    uvicorn.run(raw_app(dsn, tenant_id, template_ticket), host="127.0.0.1", port=port, log_level="warning",
                **uvicorn_options(get_settings()))


class Target:
    """One server under test and how to ask it each operation."""

    def __init__(self, name: str, port: int, tokens: dict[str, str], compound_id: str, pid: int = 0) -> None:
        self.name, self.url, self.pid = name, f"http://127.0.0.1:{port}/graphql", pid
        self.tokens, self.compound_id = tokens, compound_id
        self.n = 0

    def request(self, op: str) -> tuple[dict, dict]:
        self.n += 1
        if self.name == "raw":
            variables = {"n": 100 if op == "tickets100" else 10, "description": f"楼道堆放杂物（压测 {self.n}）"}
            return {"op": "tickets" if op.startswith("tickets") else op, "variables": variables}, {}
        if op == "me":
            body: dict = {"query": ME}
        elif op.startswith("tickets"):
            body = {"query": TICKETS, "variables": {"n": int(op.removeprefix("tickets"))}}
        else:
            body = {"query": REPORT, "variables": {"in": {
                "itemCode": "corridor_clutter", "description": f"楼道堆放杂物（压测 {self.n}）",
                "compoundId": self.compound_id}}}
        token = self.tokens["resident" if op == "reportTicket" else "tenant_admin"]
        return body, {"Authorization": f"Bearer {token}"}

    async def call(self, client: Any, op: str) -> float:
        body, headers = self.request(op)
        started = time.perf_counter()
        resp = await client.post(self.url, json=body, headers=headers)
        took = time.perf_counter() - started
        data = resp.json()
        if resp.status_code != 200 or data.get("errors"):
            raise RuntimeError(f"{self.name} {op}: {resp.status_code} {str(data)[:300]}")
        return took


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def wait_ready(port: int, path: str = "/healthz") -> None:
    import httpx

    async with httpx.AsyncClient() as c:
        for _ in range(600):
            try:
                await c.get(f"http://127.0.0.1:{port}{path}")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit(f"nothing answers on port {port}")


def statements(log: Path, offset: int, role: str) -> tuple[int, int]:
    """(statements, messages) the role sent since ``offset`` in PostgreSQL's log (``%m [%p] %u`` prefix)."""
    import re

    line_re = re.compile(r"^\S+ \S+ \S+ \[\d+\] (\S*) LOG:  (?:statement|execute [^:]*): (.*)$")
    count = messages = 0
    current: list[str] | None = None

    def close() -> None:
        nonlocal count
        if current is not None:
            count += len([s for s in " ".join(current).split(";") if s.strip()])

    with log.open("rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            if line.startswith("\t") and current is not None:
                current.append(line)
                continue
            close()
            current = None
            m = line_re.match(line)
            if m and m.group(1) == role:
                current = [m.group(2)]
                messages += 1
    close()
    return count, messages


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose API is measured")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="each intake concurrency level, each target")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                        help="intake's load generator: wrk (Debian's package) when on PATH, else Python's httpx")
    parser.add_argument("--raw-server", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_server:
        port, dsn, tenant_id, template = args.raw_server
        serve_raw(int(port), dsn, int(tenant_id), int(template))
        return 0

    from api.embedded import APP_ROLE, EmbeddedServices, free_port
    from tenants.db import connect
    from tenants.settings import get_settings
    from tests import fuzz_kit

    root = Path(args.root).resolve()
    python = str(root / ".venv" / "bin" / "python")
    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / "bench-request-path")).resolve()
    svc = EmbeddedServices(home, database="civicgrid_request_path").start()
    procs: list[subprocess.Popen] = []
    try:
        svc.recreate_database()
        os.environ.update(
            DATABASE_URL=svc.app_url, DATABASE_OWNER_URL=svc.owner_url, REDIS_URL=svc.redis_url,
            CIVICGRID_ENV="development", CIVICGRID_JWT_SECRET="bench-secret-not-for-production-0123456789",
            CIVICGRID_HOME=str(home), CIVICGRID_DB_POOL_SIZE="20",
        )
        get_settings.cache_clear()
        subprocess.run([python, "-m", "api.cli", "migrate"], check=True, cwd=root, env=os.environ,
                       stdout=subprocess.DEVNULL)

        async def seed() -> tuple[dict[str, str], str, int, int]:
            from datetime import UTC, datetime

            from tortoise import Tortoise

            from tenants.db import tortoise_config
            from tenants.scope import tenant_transaction
            from tenants.tenancy.models import Tenant
            from tenants.territory.models import MODEL_BY_LEVEL
            from tenants.tickets.models import Channel, Ticket, UnitKind

            await Tortoise.init(config=tortoise_config(svc.owner_url))
            try:
                tokens = await fuzz_kit.seed(get_settings())
                t = await Tenant.get(slug="xiahuayuan")
                async with tenant_transaction(t.id):
                    compound = await MODEL_BY_LEVEL["compound"].filter(code="K1").first()
                    assert compound is not None
                    first = None
                    for i in range(120):
                        ticket = await Ticket.create(
                            category_code="环境卫生", item_code="corridor_clutter", description=f"第{i}件",
                            channel=Channel.APP, street_id=compound.street_id, community_id=compound.community_id,
                            grid_id=compound.grid_id, compound_id=compound.id, reporter_user_id="fuzz-resident",
                            entered_by="fuzz-resident", assignee_kind=UnitKind.COMMUNITY,
                            assignee_id=compound.community_id, opened_at=datetime.now(UTC))
                        first = first or ticket.id
                return tokens, str(compound.id), t.id, first
            finally:
                await Tortoise.close_connections()

        tokens, compound_id, tenant_id, template = asyncio.run(seed())

        def start(which: str) -> int:
            port = free_port()
            if which == "api":
                cmd, cwd = [python, "-m", "api.cli", "api", "--port", str(port)], root
            else:
                cmd, cwd = [sys.executable, __file__, "--raw-server", str(port), svc.app_url, str(tenant_id),
                            str(template)], ROOT
            log = open(home / f"{which}-{port}.log", "w")
            procs.append(subprocess.Popen(cmd, cwd=cwd, env=os.environ, stdout=log, stderr=subprocess.STDOUT))
            return port

        async def count_statements() -> dict[tuple[str, str], tuple[int, int]]:
            import httpx

            svc.psql("ALTER SYSTEM SET log_statement = 'all'; ALTER SYSTEM SET log_line_prefix = '%m [%p] %u ';"
                     " SELECT pg_reload_conf();")
            ports = {"civicgrid": start("api"), "raw": start("raw")}
            log = home / "pg" / "log"
            out = {}
            try:
                for port in ports.values():
                    await wait_ready(port)
                async with httpx.AsyncClient(timeout=60) as client:
                    for name, port in ports.items():
                        target = Target(name, port, tokens, compound_id)
                        for op in OPS:
                            for _ in range(3):  # warm: caches, prepared statements
                                await target.call(client, op)
                            offset = log.stat().st_size
                            await target.call(client, op)
                            await asyncio.sleep(0.2)  # the log is written as statements run; let it land
                            out[(name, op)] = statements(log, offset, APP_ROLE)
            finally:
                svc.psql("ALTER SYSTEM RESET log_statement; ALTER SYSTEM RESET log_line_prefix;"
                         " SELECT pg_reload_conf();")
                while procs:
                    proc = procs.pop()
                    proc.terminate()
                    proc.wait(30)
            return out

        async def latencies(targets: list[Target]) -> dict[tuple[str, str], list[list[float]]]:
            import httpx

            samples: dict[tuple[str, str], list[list[float]]] = {}
            async with httpx.AsyncClient(timeout=60) as client:
                for target in targets:  # warm
                    for op in OPS:
                        for _ in range(5):
                            await target.call(client, op)
                for _ in range(args.rounds):  # interleaved: each round asks every operation of every target
                    for op in OPS:
                        for target in targets:
                            round_ = [await target.call(client, op) for _ in range(args.per_round)]
                            samples.setdefault((target.name, op), []).append(round_)
            return samples

        async def tickets() -> int:
            conn = await connect(svc.owner_url)
            try:
                return int(await conn.fetchval("SELECT count(*) FROM ticket"))
            finally:
                await conn.close()

        async def intake_wrk(target: Target, clients: int) -> tuple[float, float, float, float]:
            """wrk (a C load generator) posting the report: (reports per second, p50 ms, p99 ms, server CPU ms per
            report). Python's client would spend the cores it measures on itself at 32 clients."""
            import json
            import re
            import tempfile

            body, headers = target.request("reportTicket")
            script = "wrk.method = 'POST'\nwrk.body = [==[" + json.dumps(body, ensure_ascii=False) + "]==]\n"
            script += "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n"
                              for k, v in {**headers, "Content-Type": "application/json"}.items())
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(script)
            made, cpu = await tickets(), cpu_seconds(target.pid)
            out = await asyncio.to_thread(subprocess.run, [
                "wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{args.seconds:g}s", "--latency", "-s", f.name,
                target.url,
            ], capture_output=True, text=True, check=True)
            requests = int(re.search(r"(\d+) requests in", out.stdout).group(1))  # type: ignore[union-attr]
            made = await tickets() - made
            if made < requests or "Non-2xx" in out.stdout:
                raise RuntimeError(f"{target.name}: {requests} answers, {made} tickets\n{out.stdout}")

            def ms(label: str) -> float:
                value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out.stdout).groups()  # type: ignore
                return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
            return rate, ms("50"), ms("99"), (cpu_seconds(target.pid) - cpu) * 1000 / max(1, requests)

        async def intake(target: Target, clients: int) -> tuple[float, list[float], float]:
            """(reports per second, latencies, the server process's CPU ms per report)"""
            import httpx

            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            took: list[float] = []
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                started, cpu = time.perf_counter(), cpu_seconds(target.pid)

                async def one() -> None:
                    while time.perf_counter() - started < args.seconds:
                        took.append(await target.call(client, "reportTicket"))

                await asyncio.gather(*(one() for _ in range(clients)))
                cpu_ms = (cpu_seconds(target.pid) - cpu) * 1000 / max(1, len(took))
                return len(took) / (time.perf_counter() - started), took, cpu_ms

        async def run() -> None:
            counts = await count_statements()
            print(f"civicgrid at {root}; raw limit: asyncpg + set_config + orjson on the same uvicorn options")
            print("\nstatements per request (PostgreSQL's log, application role; messages in brackets)")
            print(f"{'operation':<14}{'civicgrid':>14}{'raw':>10}{'ratio':>8}")
            for op in OPS:
                (c, cm), (r, rm) = counts[("civicgrid", op)], counts[("raw", op)]
                print(f"{op:<14}{f'{c} ({cm})':>14}{f'{r} ({rm})':>10}{c / r:>7.1f}x")

            targets = [Target("civicgrid", start("api"), tokens, compound_id, procs[-1].pid),
                       Target("raw", start("raw"), tokens, compound_id, procs[-1].pid)]
            for t in targets:
                await wait_ready(int(t.url.split(":")[2].split("/")[0]))
            samples = await latencies(targets)
            print(f"\nlatency over HTTP, sequential ({args.rounds} interleaved rounds x {args.per_round}; "
                  "p50 = median of the rounds' medians)")
            print(f"{'operation':<14}{'civicgrid p50/p99 ms':>22}{'raw p50/p99 ms':>18}{'p50 ratio':>11}")
            for op in OPS:
                row = []
                for name in ("civicgrid", "raw"):
                    rounds = samples[(name, op)]
                    p50 = statistics.median(statistics.median(r) for r in rounds) * 1000
                    p99 = pct([x for r in rounds for x in r], 0.99)
                    row.append((p50, p99))
                (cp50, cp99), (rp50, rp99) = row
                print(f"{op:<14}{f'{cp50:.1f} / {cp99:.1f}':>22}{f'{rp50:.1f} / {rp99:.1f}':>18}"
                      f"{cp50 / rp50:>10.1f}x")

            print(f"\nintake (reportTicket), {args.seconds:g} s per level and target; CPU: the server process's, "
                  "ms per report (PostgreSQL's not counted)")
            print(f"{'clients':<9}{'civicgrid /s':>13}{'p50/p99 ms':>16}{'CPU ms':>8}{'raw /s':>9}{'p50/p99 ms':>16}"
                  f"{'CPU ms':>8}{'ratio':>8}")
            load = "wrk" if args.load == "wrk" or (args.load == "auto" and shutil.which("wrk")) else "python"
            print(f"load generator: {load}")
            for clients in (1, 8, 32):
                rates = []
                for target in targets:
                    if load == "wrk":
                        rates.append(await intake_wrk(target, clients))
                        continue
                    rate, took, cpu_ms = await intake(target, clients)
                    rates.append((rate, pct(took, 0.5), pct(took, 0.99), cpu_ms))
                (c, c50, c99, ccpu), (r, r50, r99, rcpu) = rates
                print(f"{clients:<9}{c:>13.0f}{f'{c50:.1f} / {c99:.1f}':>16}{ccpu:>8.2f}{r:>9.0f}"
                      f"{f'{r50:.1f} / {r99:.1f}':>16}{rcpu:>8.2f}{r / c:>7.1f}x")

        asyncio.run(run())
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        svc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
