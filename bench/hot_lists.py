"""The hot lists against their physical limit (issue 15), in one run, on embedded PostgreSQL:

For `tickets`, `companyRankings`, `compoundRankings`, `settlementStatements`, `areas` and `bonds`, each with its
main links selected, at first 10 and first 100: p50/p99 over HTTP, sequential, of
- before: another checkout's API (`--before`, by default /work/main when it exists), a real `civicgrid api`;
- after: this checkout's API, a real `civicgrid api`;
- raw: the physical limit, asyncpg with the same SQL this checkout's API sends for the list (captured from it in
  process), in the same transaction shape (BEGIN and the tenant's set_config in one message, COMMIT), rows to
  orjson, behind the same uvicorn options;
in interleaved rounds (each round asks every list of every target), p50 = the median of the rounds' medians, and
the ratios before/raw and after/raw (goals: <= 3x at 10, <= 4x at 100). Also the SQL statements each list sends
(this checkout, the request path's own excluded, counted in process).

Run: .venv/bin/python bench/hot_lists.py [--before CHECKOUT|none] [--after CHECKOUT] [--rounds 5] [--per-round 10]
Each checkout runs with its own .venv/bin/python (its dependencies: uvloop, orjson where it has them).
Home: $CIVICGRID_BENCH_HOME or .civicgrid/bench-hot-lists, made afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _raw  # noqa: E402

LISTS = {
    "tickets": """query($n: Int!) { tickets(first: $n) { edges { cursor node { id state itemTitle description openedAt
      dueAt channel assignee { kind id name } compound { id name address } timeline { at action toStatus note }
      partnerTasks { id state } photoFiles { id name } } } pageInfo { hasNextPage endCursor } } }""",
    "companyRankings": """query($n: Int!) { companyRankings(period: "2026Q3", first: $n) { edges { cursor node {
      rank score star mark company { id name creditCode contactName } } } pageInfo { hasNextPage endCursor } } }""",
    "compoundRankings": """query($n: Int!) { compoundRankings(period: "2026Q3", first: $n) { edges { cursor node {
      rank score bodyPart deductions compound { id name address } } } pageInfo { hasNextPage endCursor } } }""",
    "settlementStatements": """query($n: Int!) { settlementStatements(first: $n) { edges { cursor node { id
      periodKey status poolFen totalFen community { id name } lines { position amountFen rule
      compound { id name } companyName } payees { companyId amountFen companyName creditCode } } }
      pageInfo { hasNextPage endCursor } } }""",
    "areas": """query($n: Int!) { areas(level: COMPOUND, first: $n) { edges { cursor node { id code name
      ... on Compound { address grid { id name } community { id name } street { id name } } } }
      pageInfo { hasNextPage endCursor } } }""",
    "bonds": """query($n: Int!) { bonds(first: $n) { edges { cursor node { contractId companyId requiredFen
      balanceFen shortfallFen topUp { dueOn } compound { id name } } } pageInfo { hasNextPage endCursor } } }""",
}
SIZES = (10, 100)
OPS = [(name, n) for name in LISTS for n in SIZES]
# What the request path sends before a list's own statements (not the list's SQL).
OVERHEAD = ("set_config(", 'FROM "tenant"', "civicgrid_enter_tenant")


# --- the raw limit ------------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """asyncpg values as orjson takes them: records (composite rows too) as dicts, arrays as lists."""
    import asyncpg

    if isinstance(value, asyncpg.Record):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def raw_app(dsn: str, tenant_id: int, statements: dict[str, list[tuple[str, list[Any]]]]) -> Any:
    """Each list answered with the SQL this checkout's API sends for it (bench/_raw.py)."""

    async def answer(conn: Any, request: dict[str, Any]) -> Any:
        return [[plain(r) for r in await conn.fetch(sql, *params)] for sql, params in statements[request["op"]]]

    return _raw.raw_app(dsn, tenant_id, answer, pool_size=4)


def serve_raw(port: int, dsn: str, tenant_id: int, statements_file: str, root: str) -> None:
    import uvicorn

    sys.path.insert(0, root)  # the uvicorn options of the checkout measured as "after"

    from api.server import uvicorn_options
    from tenants.settings import get_settings

    statements = pickle.loads(Path(statements_file).read_bytes())
    uvicorn.run(raw_app(dsn, tenant_id, statements), host="127.0.0.1", port=port, log_level="warning",
                **uvicorn_options(get_settings()))


# --- seeding and capture ------------------------------------------------------------------------------------------


async def seed(settings: Any, rows: int) -> tuple[int, str]:
    """临沭县 with ``rows`` compounds under contract, tickets (timelines, partner tasks, photos), company and
    compound ratings of a published 2026Q3, and settlement statements of 20 lines each: (tenant id, admin token)."""
    from api.auth import mint_token
    from tenants.assessment.models import CompanyRating, CompoundRating, RatingSnapshot, SnapshotStatus
    from tenants.files.models import Purpose, StoredFile
    from tenants.scope import tenant_context, tenant_transaction
    from tenants.subsidies.models import SettlementLine, SettlementStatement
    from tenants.tenancy.roles import Role
    from tenants.tenancy.service import create_tenant
    from tenants.territory.parties import PropertyCompany
    from tenants.tickets.models import Channel, PartnerTask, Ticket, TicketEvent, UnitKind
    from tests.fixtures.territory import add_compound, build

    now = datetime(2026, 10, 1, tzinfo=UTC)
    t = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    ids = await build(t.id)
    with tenant_context(t.id):
        compounds = [ids["K1"], ids["K2"], ids["K3"]]
        for i in range(rows - 3):
            compounds.append(await add_compound(ids, f"X{i}", ("G1", "G2", "G3")[i % 3], ("P1", "P2")[i % 2]))
    async with tenant_transaction(t.id):
        units = [(UnitKind.COMMUNITY, ids["C1"]), (UnitKind.STREET, ids["S1"]),
                 (UnitKind.PROPERTY_COMPANY, ids["P1"]), (UnitKind.PROPERTY_COMPANY, ids["P2"])]
        for i in range(rows):
            kind, unit = units[i % len(units)]
            ticket = await Ticket.create(
                category_code="环境卫生", item_code="楼道堆物", description=f"第{i}件：楼道堆放杂物",
                channel=Channel.APP, street_id=ids["S1"], community_id=ids["C1"], grid_id=ids["G1"],
                compound_id=compounds[i], reporter_user_id="res-1", entered_by="res-1", assignee_kind=kind,
                assignee_id=unit,
                opened_at=now + timedelta(minutes=i), due_at=now + timedelta(days=1),
                rules={"item": {"title": "楼道堆物"}},
            )
            photo = await StoredFile.create(
                key=f"k{i}", thumbnail_key=f"t{i}", content_type="image/jpeg", thumbnail_type="image/jpeg", size=10,
                width=4, height=3, sha256="0" * 64, name=f"{i}.jpg", purpose=Purpose.TICKET, uploaded_by="res-1",
                uploaded_at=now, attached_kind="ticket", attached_id=ticket.id, attached_at=now,
            )
            await TicketEvent.create(ticket_id=ticket.id, at=now, actor="res-1", action="report",
                                     to_state="reported", details={"fileIds": [photo.id]})
            await TicketEvent.create(ticket_id=ticket.id, at=now + timedelta(hours=1), actor="so-1",
                                     action="dispatch", from_state="reported", to_state="dispatched", note="派单")
            if i % 5 == 0:
                await PartnerTask.create(ticket_id=ticket.id, unit_kind=UnitKind.PROPERTY_COMPANY, unit_id=ids["P2"],
                                         accept_due_at=now, due_at=now, created_at=now)
        companies = [await PropertyCompany.create(credit_code=f"9137{i:010d}", name=f"物业{i}") for i in range(rows)]
        snap = await RatingSnapshot.create(period_key="2026Q3", status=SnapshotStatus.DRAFT, computed_at=now)
        for rank, c in enumerate(companies, 1):
            await CompanyRating.create(snapshot_id=snap.id, company_id=c.id, score=Decimal("80.5"), rank=rank,
                                       breakdown={})
        for rank, k in enumerate(compounds, 1):
            await CompoundRating.create(snapshot_id=snap.id, compound_id=k, company_id=ids["P1"],
                                        score=Decimal("90.25"), body_part=Decimal("60"), deductions=Decimal("1.5"),
                                        rank=rank, breakdown={})
        for i in range(min(rows, 150)):
            statement = await SettlementStatement.create(
                period_key=str(1900 + i), community_id=ids["C1"], pool_fen=6_000_000, total_fen=20_000, rule={},
                basis={}, computed_at=now, computed_by="admin",
            )
            for p in range(1, 21):
                await SettlementLine.create(
                    statement_id=statement.id, position=p, for_period=str(1900 + i),
                    compound_id=compounds[(i + p) % rows], company_id=ids["P1" if p % 2 else "P2"],
                    rule="按分档 / by band", amount_fen=1_000, score=Decimal("88.5"),
                )
        snap.status, snap.published_at = SnapshotStatus.PUBLISHED, now
        await snap.save()
    return t.id, mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="linshu", user_id="admin")


async def capture(settings: Any, token: str) -> dict[str, list[tuple[str, list[Any]]]]:
    """The SQL this checkout's API sends for each list and page size, the request path's own left out."""
    import httpx
    from asgi_lifespan import LifespanManager
    from tortoise.backends.asyncpg.client import AsyncpgDBClient

    from api.app import create_app

    sent: list[tuple[str, list[Any]]] = []
    original = AsyncpgDBClient.execute_query

    async def recording(self: Any, query: str, values: list | None = None) -> Any:
        sent.append((query, list(values or [])))
        return await original(self, query, values)

    AsyncpgDBClient.execute_query = recording  # type: ignore[method-assign]
    out: dict[str, list[tuple[str, list[Any]]]] = {}
    try:
        app = create_app(settings)
        async with LifespanManager(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            for name, n in OPS:
                body = {"query": LISTS[name], "variables": {"n": n}}
                headers = {"Authorization": f"Bearer {token}"}
                await client.post("/graphql", json=body, headers=headers)  # warm: memoised configuration
                sent.clear()
                resp = await client.post("/graphql", json=body, headers=headers)
                assert resp.status_code == 200 and b'"errors"' not in resp.content, resp.text[:500]
                out[f"{name}{n}"] = [(q, v) for q, v in sent if not any(o in q for o in OVERHEAD)]
    finally:
        AsyncpgDBClient.execute_query = original  # type: ignore[method-assign]
    return out


# --- measuring ----------------------------------------------------------------------------------------------------


class Target:
    def __init__(self, name: str, port: int, token: str) -> None:
        self.name, self.url, self.token = name, f"http://127.0.0.1:{port}/graphql", token

    async def call(self, client: Any, name: str, n: int) -> float:
        if self.name == "raw":
            body: dict = {"op": f"{name}{n}"}
            headers: dict = {}
        else:
            body, headers = {"query": LISTS[name], "variables": {"n": n}}, {"Authorization": f"Bearer {self.token}"}
        started = time.perf_counter()
        resp = await client.post(self.url, json=body, headers=headers)
        took = time.perf_counter() - started
        if resp.status_code != 200 or b'"errors"' in resp.content:
            raise RuntimeError(f"{self.name} {name} {n}: {resp.status_code} {resp.text[:300]}")
        return took


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def wait_ready(port: int) -> None:
    import httpx

    async with httpx.AsyncClient() as c:
        for _ in range(600):
            try:
                await c.get(f"http://127.0.0.1:{port}/healthz")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit(f"nothing answers on port {port}")


def main() -> int:
    parser = argparse.ArgumentParser()
    default_before = "/work/main" if Path("/work/main/.venv/bin/python").exists() else "none"
    parser.add_argument("--before", default=default_before, help="a checkout to compare with (none: skip)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--after", default=str(ROOT), help="the checkout measured as after (default: this one)")
    parser.add_argument("--only", nargs="+", choices=list(LISTS), help="measure only these lists")
    parser.add_argument("--raw-server", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--capture", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        OPS[:] = [(name, n) for name, n in OPS if name in args.only]
    if args.capture:  # in its own process: the API in process, against DATABASE_URL
        from tenants.settings import get_settings

        token, out = args.capture
        Path(out).write_bytes(pickle.dumps(asyncio.run(capture(get_settings(), token))))
        return 0
    if args.raw_server:
        port, dsn, tenant_id, statements_file, root = args.raw_server
        serve_raw(int(port), dsn, int(tenant_id), statements_file, root)
        return 0

    from api.embedded import EmbeddedServices, free_port
    from tenants.settings import get_settings

    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / "bench-hot-lists")).resolve()
    svc = EmbeddedServices(home, database="civicgrid_hot_lists").start()
    procs: list[subprocess.Popen] = []
    try:
        svc.recreate_database()
        os.environ.update(
            DATABASE_URL=svc.app_url, DATABASE_OWNER_URL=svc.owner_url, REDIS_URL=svc.redis_url,
            CIVICGRID_ENV="development", CIVICGRID_JWT_SECRET="bench-secret-not-for-production-0123456789",
            CIVICGRID_HOME=str(home), CIVICGRID_DB_POOL_SIZE="20", PYTHONDONTWRITEBYTECODE="1",
        )
        get_settings.cache_clear()
        settings = get_settings()
        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ,
                       stdout=subprocess.DEVNULL)

        async def prepare() -> tuple[int, str]:
            from tortoise import Tortoise

            from tenants.db import tortoise_config

            await Tortoise.init(config=tortoise_config(svc.owner_url))
            try:
                return await seed(settings, args.rows)
            finally:
                await Tortoise.close_connections()

        tenant_id, token = asyncio.run(prepare())
        statements_file = home / "statements.pickle"
        subprocess.run([sys.executable, __file__, "--capture", token, str(statements_file)], check=True, cwd=ROOT,
                       env=os.environ)
        statements = pickle.loads(statements_file.read_bytes())

        def start(which: str, root: Path) -> int:
            port = free_port()
            python = str(root / ".venv" / "bin" / "python")
            if which == "raw":
                cmd = [python, str(Path(__file__).resolve()), "--raw-server", str(port), svc.app_url, str(tenant_id),
                       str(statements_file), str(root)]
            else:
                cmd = [python, "-m", "api.cli", "api", "--port", str(port)]
            log = open(home / f"{which}-{port}.log", "w")
            procs.append(subprocess.Popen(cmd, cwd=root, env=os.environ, stdout=log, stderr=subprocess.STDOUT))
            return port

        before = None if args.before == "none" else Path(args.before).resolve()
        after = Path(args.after).resolve()

        async def run() -> None:
            import httpx

            targets = [Target("after", start("after", after), token), Target("raw", start("raw", after), token)]
            if before is not None:
                targets.insert(0, Target("before", start("before", before), token))
            for t in targets:
                await wait_ready(int(t.url.split(":")[2].split("/")[0]))
            samples: dict[tuple[str, str, int], list[list[float]]] = {}
            async with httpx.AsyncClient(timeout=120) as client:
                for target in targets:  # warm: caches, prepared statements
                    for name, n in OPS:
                        for _ in range(3):
                            await target.call(client, name, n)
                for _ in range(args.rounds):  # interleaved: each round asks every list of every target
                    for name, n in OPS:
                        for target in targets:
                            got = [await target.call(client, name, n) for _ in range(args.per_round)]
                            samples.setdefault((target.name, name, n), []).append(got)

            names = [t.name for t in targets]
            print(f"hot lists, {args.rows} rows each (statements: 150 x 20 lines); before = {args.before}, "
                  f"after = {after}; raw = asyncpg with after's SQL + set_config + orjson, same uvicorn options")
            print(f"latency over HTTP, sequential, {args.rounds} interleaved rounds x {args.per_round}; "
                  "p50 = median of the rounds' medians; ratios = p50 / raw p50")
            head = "".join(f"{n + ' p50/p99 ms':>22}" for n in names)
            ratios = "".join(f"{n + '/raw':>12}" for n in names if n != "raw")
            print(f"{'list':<22}{'first':>6}{'SQL':>5}{head}{ratios}")
            for name, n in OPS:
                cells, p50s = [], {}
                for target_name in names:
                    rounds = samples[(target_name, name, n)]
                    p50 = statistics.median(statistics.median(r) for r in rounds) * 1000
                    p99 = pct([x for r in rounds for x in r], 0.99)
                    p50s[target_name] = p50
                    cells.append(f"{f'{p50:.1f} / {p99:.1f}':>22}")
                rs = "".join(f"{p50s[t] / p50s['raw']:>11.1f}x" for t in names if t != "raw")
                print(f"{name:<22}{n:>6}{len(statements[f'{name}{n}']):>5}{''.join(cells)}{rs}")

        asyncio.run(run())
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        svc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
