"""Fuzz run: many hypothesis-graphql examples of every query and mutation, as a tenant admin and as a resident,
plus the hostile raw requests of tests/fuzz_kit.py; prints counts by HTTP status and error code, then every
server fault (HTTP 5xx or INTERNAL_ERROR) with its operation and input.

Run: .venv/bin/python bench/fuzz.py [examples per operation, default 50] [--random]
On an embedded PostgreSQL and Redis under $CIVICGRID_BENCH_HOME (default .civicgrid/bench-fuzz), made afresh.
Exits 1 when any fault was found.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(examples: int, randomize: bool) -> int:
    import httpx
    from asgi_lifespan import LifespanManager
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from api.embedded import EmbeddedServices
    from tenants.settings import get_settings
    from tests import fuzz_kit

    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / "bench-fuzz")).resolve()
    svc = EmbeddedServices(home, database="civicgrid_fuzz").start()
    loop = asyncio.new_event_loop()
    try:
        svc.recreate_database()
        os.environ.update(
            DATABASE_URL=svc.app_url,
            DATABASE_OWNER_URL=svc.owner_url,
            REDIS_URL=svc.redis_url,
            CIVICGRID_ENV="development",
            CIVICGRID_JWT_SECRET="fuzz-secret-not-for-production-0123456789",
            CIVICGRID_HOME=str(home),
        )
        get_settings.cache_clear()
        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ)
        from api.app import create_app

        app = create_app(get_settings())
        causes = fuzz_kit.Causes().install()
        for name in fuzz_kit.Causes.LOGGERS:
            logging.getLogger(name).propagate = False  # counted and listed below, not printed with tracebacks
        logging.getLogger("strawberry.execution").disabled = True

        async def start() -> LifespanManager:
            manager = LifespanManager(app)  # made inside the loop: it detects the async library there
            await manager.__aenter__()
            return manager

        lifespan = loop.run_until_complete(start())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fuzz")
        tokens = loop.run_until_complete(fuzz_kit.seed(get_settings()))
        strategies = {op: fuzz_kit.strategy(*op) for op in fuzz_kit.operations()}
        counts: Counter[tuple[int, str]] = Counter()
        faults: dict[str, list[str]] = defaultdict(list)

        def record(where: str, shown: str, outcome: fuzz_kit.Outcome) -> None:
            counts[(outcome.status, outcome.codes[0] if outcome.codes else "-")] += 1
            cause = causes.take() or outcome.detail
            if outcome.bad:
                faults[where].append(f"{outcome.status} {outcome.codes[:3]} {cause}\n      {shown}")

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=not randomize,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def one(data: st.DataObject) -> None:
            for (kind, name), strategy in strategies.items():
                query = data.draw(strategy)
                for role, token in tokens.items():
                    outcome = loop.run_until_complete(fuzz_kit.send(client, token, query=query))
                    record(f"{kind} {name} ({role})", " ".join(query.split())[:400], outcome)

        started = time.monotonic()
        one()
        for raw in fuzz_kit.HOSTILE:
            record(
                f"raw: {raw.name}",
                raw.name,
                loop.run_until_complete(fuzz_kit.send(client, tokens["tenant_admin"], raw=raw)),
            )
        healthy = loop.run_until_complete(fuzz_kit.healthy(client, tokens["tenant_admin"]))
        took = time.monotonic() - started
        print(
            f"{sum(counts.values())} requests in {took:.1f} s "
            f"({len(strategies)} operations x {examples} examples x {len(tokens)} roles + {len(fuzz_kit.HOSTILE)} raw)"
        )
        print("status  code                         count")
        for (status, code), n in sorted(counts.items()):
            print(f"{status:<7} {code:<28} {n}")
        print(f"server healthy after: {healthy}")
        print(f"server faults: {sum(len(v) for v in faults.values())} in {len(faults)} operations")
        for where, items in sorted(faults.items()):
            print(f"- {where}: {len(items)}")
            for item in items[:3]:
                print(f"    {item}")
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        return 1 if faults or not healthy else 0
    finally:
        loop.close()
        svc.stop()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sys.exit(main(int(args[0]) if args else 50, "--random" in sys.argv))
