"""Load and fault run (issue 12): a real `civicgrid api` process on embedded PostgreSQL and Redis.

1. steady: 16 reporters send `reportTicket` for SECONDS (default 180): errors, throughput, p50/p99, and the API's
   RSS sampled every 5 s (flat = the last third within 10 % of the first third);
2. crowd: 64 clients at once on a pool of 20 connections (CIVICGRID_DB_POOL_SIZE=20): they queue, none fails;
3. restart: 16 reporters while PostgreSQL is restarted (pg_ctl restart -m fast) in the middle; a reporter retries an
   answer it did not get (transport error or UNAVAILABLE) with the same idempotencyKey until it is acknowledged.

After each phase: every acknowledged ticket is stored, and there are exactly as many tickets as acknowledged keys
(none doubled, none lost). Exits 1 when a check fails.

Run: .venv/bin/python bench/load.py [SECONDS]   (home: $CIVICGRID_BENCH_HOME or .civicgrid/bench-load, made afresh)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPORT = "mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id } }"



def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Reporters:
    """Clients that report tickets, each with its own idempotency key, retrying a lost answer with the same key."""

    def __init__(self, port: int, token: str, compound_id: str) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.compound_id = compound_id
        self.acked: dict[str, str] = {}  # idempotency key -> ticket id
        self.errors: dict[str, int] = {}
        self.examples: dict[str, str] = {}  # an error's code -> its first message, to show what failed
        self.retries = 0
        self.latencies: list[float] = []

    async def report(self, client, retry_for: float) -> None:
        import httpx

        key = uuid.uuid4().hex
        body = {"query": REPORT, "variables": {"in": {
            "itemCode": "corridor_clutter", "description": "楼道堆放杂物（压测）", "compoundId": self.compound_id,
            "idempotencyKey": key}}}
        give_up = time.monotonic() + retry_for
        while True:
            started = time.monotonic()
            try:
                resp = await client.post(self.url, json=body, headers=self.headers)
                data = resp.json()
                codes = [str(e.get("extensions", {}).get("code")) for e in data.get("errors") or []]
                detail = str(data.get("errors"))[:300]
            except (httpx.TransportError, ValueError) as exc:
                codes, detail = [type(exc).__name__], str(exc)[:300]
            if not codes:
                self.latencies.append(time.monotonic() - started)
                self.acked[key] = data["data"]["reportTicket"]["id"]
                return
            retryable = codes[0] in {"UNAVAILABLE", "ConnectError", "ReadError", "RemoteProtocolError",
                                     "ReadTimeout", "ConnectTimeout", "PoolTimeout", "WriteError"}
            if not retryable or time.monotonic() > give_up:
                self.errors[codes[0]] = self.errors.get(codes[0], 0) + 1
                self.examples.setdefault(codes[0], detail)
                return
            self.retries += 1
            await asyncio.sleep(0.2)

    async def run(self, clients: int, *, seconds: float | None = None, each: int | None = None,
                  retry_for: float = 0.0) -> float:
        import httpx

        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def one() -> None:
                done = 0
                while (seconds is not None and time.monotonic() - started < seconds) or (
                    each is not None and done < each
                ):
                    await self.report(client, retry_for)
                    done += 1

            await asyncio.gather(*(one() for _ in range(clients)))
        return time.monotonic() - started


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) >= 2 else float("nan")


async def stored(owner_url: str, acked: dict[str, str]) -> tuple[int, int, int]:
    """(tickets in the database, acknowledged tickets found, acknowledged keys)"""
    import asyncpg

    conn = await asyncpg.connect(owner_url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM ticket")
        found = await conn.fetchval("SELECT count(*) FROM ticket WHERE id = ANY($1::bigint[])",
                                    [int(i) for i in acked.values()])
        return total, found, len(acked)
    finally:
        await conn.close()


def main(seconds: float) -> int:
    from api.embedded import EmbeddedServices, free_port
    from tenants.settings import get_settings
    from tests import fuzz_kit

    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / "bench-load")).resolve()
    svc = EmbeddedServices(home, database="civicgrid_load").start()
    api: subprocess.Popen | None = None
    failures: list[str] = []
    try:
        svc.recreate_database()
        os.environ.update(
            DATABASE_URL=svc.app_url, DATABASE_OWNER_URL=svc.owner_url, REDIS_URL=svc.redis_url,
            CIVICGRID_ENV="development", CIVICGRID_JWT_SECRET="load-secret-not-for-production-0123456789",
            CIVICGRID_HOME=str(home), CIVICGRID_DB_POOL_SIZE="20",
        )
        get_settings.cache_clear()
        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ)

        async def seed() -> tuple[str, str]:
            from tortoise import Tortoise

            from tenants.db import tortoise_config
            from tenants.scope import tenant_transaction
            from tenants.territory.models import MODEL_BY_LEVEL

            await Tortoise.init(config=tortoise_config(svc.owner_url))
            try:
                tokens = await fuzz_kit.seed(get_settings())
                from tenants.tenancy.models import Tenant

                t = await Tenant.get(slug="xiahuayuan")
                async with tenant_transaction(t.id):
                    compound = await MODEL_BY_LEVEL["compound"].filter(code="K1").first()
                    assert compound is not None
                return tokens["resident"], str(compound.id)
            finally:
                await Tortoise.close_connections()

        token, compound_id = asyncio.run(seed())
        port = free_port()
        log = open(home / "api.log", "w")
        api = subprocess.Popen([sys.executable, "-m", "api.cli", "api", "--port", str(port)], cwd=ROOT,
                               env=os.environ, stdout=log, stderr=subprocess.STDOUT)

        async def run() -> None:
            import httpx

            assert api is not None
            async with httpx.AsyncClient() as c:
                for _ in range(600):  # up to 60 s for the process to import and bind
                    try:
                        if (await c.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                else:
                    raise SystemExit(f"the API did not start; see {home / 'api.log'}")

            # 1. steady
            steady = Reporters(port, token, compound_id)
            rss: list[float] = []

            async def sample() -> None:
                while True:
                    rss.append(rss_mib(api.pid))
                    await asyncio.sleep(5)

            sampler = asyncio.create_task(sample())
            took = await steady.run(16, seconds=seconds)
            sampler.cancel()
            warm = rss[6:] if len(rss) >= 15 else rss  # the first 30 s warm up (imports, pools, caches)
            third = max(1, len(warm) // 3)
            first, last = statistics.mean(warm[:third]), statistics.mean(warm[-third:])
            total, found, keys = await stored(svc.owner_url, steady.acked)
            print(f"steady: 16 reporters x {took:.0f} s: {keys} acknowledged ({keys / took:.0f}/s), "
                  f"errors {steady.errors or 0}, p50 {quantile(steady.latencies, .5) * 1000:.0f} ms, "
                  f"p99 {quantile(steady.latencies, .99) * 1000:.0f} ms; RSS {rss[0]:.0f} -> {rss[-1]:.0f} MiB "
                  f"(after warm-up: mean of first third {first:.0f}, last third {last:.0f}); stored {found}/{keys}, "
                  f"tickets in the database {total}")
            if steady.errors or found != keys or total != keys:
                failures.append("steady: errors or tickets lost/doubled")
            if len(rss) >= 15 and last > first * 1.10 and last - first > 10:
                failures.append(f"steady: RSS grew {first:.0f} -> {last:.0f} MiB")

            # 2. crowd: 64 clients, 20 connections in the pool
            crowd = Reporters(port, token, compound_id)
            took = await crowd.run(64, each=10)
            total, found, keys = await stored(svc.owner_url, {**steady.acked, **crowd.acked})
            print(f"crowd: 64 clients x 10 reports on a pool of 20: {len(crowd.acked)} acknowledged in {took:.1f} s, "
                  f"errors {crowd.errors or 0}, p50 {quantile(crowd.latencies, .5) * 1000:.0f} ms, "
                  f"p99 {quantile(crowd.latencies, .99) * 1000:.0f} ms; stored {found}/{keys}, in the database {total}")
            if crowd.errors or len(crowd.acked) != 640 or found != keys or total != keys:
                failures.append("crowd: a client failed instead of queueing, or tickets lost/doubled")

            # 3. PostgreSQL restarted under load
            restart = Reporters(port, token, compound_id)
            load = asyncio.create_task(restart.run(16, seconds=min(seconds, 30), retry_for=60))
            await asyncio.sleep(min(seconds, 30) / 3)
            began = time.monotonic()
            import pgserver

            owner = {"user": "pgserver"} if os.geteuid() == 0 else {}  # pgserver runs PostgreSQL as its own user
            await asyncio.to_thread(pgserver.pg_ctl, ["restart", "-m", "fast", "-w"], pgdata=home / "pg", **owner)
            print(f"restart: PostgreSQL restarted in {time.monotonic() - began:.1f} s under 16 reporters")
            await load
            total, found, keys = await stored(svc.owner_url, {**steady.acked, **crowd.acked, **restart.acked})
            print(f"restart: {len(restart.acked)} acknowledged, {restart.retries} retries with the same key, errors "
                  f"{restart.errors or 0}; stored {found}/{keys}, tickets in the database {total}")
            for code, example in {**steady.examples, **crowd.examples, **restart.examples}.items():
                print(f"  {code}: {example}")
            if restart.errors or found != keys or total != keys:
                failures.append("restart: a report failed for good, or tickets lost/doubled")

        asyncio.run(run())
    finally:
        if api is not None:
            api.terminate()
            api.wait(30)
        svc.stop()
    for failure in failures:
        print("FAILED", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 180.0))
