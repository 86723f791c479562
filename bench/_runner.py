"""Run a benchmark's coroutine against DATABASE_URL, or against an embedded PostgreSQL made for it."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(work: Coroutine[Any, Any, Any], *, home_name: str, server: dict[str, str] | None = None) -> None:
    """With DATABASE_URL unset: start an embedded PostgreSQL under .civicgrid/<home_name> (or
    $CIVICGRID_BENCH_HOME), migrate it, run ``work``, stop the server. ``server``: settings the embedded server
    runs with (``shared_buffers``: a server sized like a production one for the data), set once and restarted."""
    if "DATABASE_URL" in os.environ:
        asyncio.run(work)
        return
    from api.embedded import EmbeddedServices

    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / home_name))
    svc = EmbeddedServices(home.resolve(), database="civicgrid_bench")
    svc.home.mkdir(parents=True, exist_ok=True)
    svc.start_postgres()
    changed = [
        name for name, value in (server or {}).items()
        if svc.psql(f"SELECT current_setting('{name}') = '{value}' AS same;").split("\n")[2].strip() != "t"
    ]
    if changed:
        for name in changed:
            svc.psql(f"ALTER SYSTEM SET {name} = '{(server or {})[name]}';")
        svc.stop()
        svc.start_postgres()
        print("server settings:", ", ".join(f"{n} = {(server or {})[n]}" for n in server or {}), flush=True)
    os.environ.update(DATABASE_URL=svc.app_url, DATABASE_OWNER_URL=svc.owner_url)
    try:
        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ)
        asyncio.run(work)
    finally:
        svc.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Table:
    """A benchmark's figures (p50/p95 of samples in ms against the issue's limits), printed as they come and as a
    table at the end."""

    def __init__(self, limits_ms: dict[str, float]) -> None:
        self.limits = limits_ms
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, label: str, samples_ms: list[float] | None, limit: str, note: str = "") -> None:
        bound = f"{self.limits[limit]:g}" if limit in self.limits else "-"
        if not samples_ms:
            self.rows.append((label, "-", "-", bound, note))
            print(f"{label}: {note}", flush=True)
            return
        p50, p95 = statistics.median(samples_ms), pct(samples_ms, 0.95)
        ratio = f"{p95 / self.limits[limit]:.2f}x of limit" if limit in self.limits else ""
        self.rows.append((label, f"{p50:.2f}", f"{p95:.2f}", bound, f"{ratio} {note}".strip()))
        print(f"{label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms over {len(samples_ms)}"
              f" (limit {bound} ms) {note}", flush=True)

    def print(self) -> None:
        head = ("measure", "p50 ms", "p95 ms", "limit ms", "p95/limit, note")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        print()
        for r in [head, *self.rows]:
            cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r[:4], widths, strict=True))]
            print("  ".join([*cells, r[4]]))


async def sample(make: Callable[[], Awaitable[Any]], n: int, warm: int = 2) -> list[float]:
    """``n`` timings of ``make()`` in ms, after ``warm`` untimed runs."""
    for _ in range(warm):
        await make()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await make()
        out.append((time.perf_counter() - t) * 1000)
    return out


class Recorder:
    """The statements the ORM's connections send while it is on (to count them, or to EXPLAIN them)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def __enter__(self) -> Recorder:
        from tortoise.backends.asyncpg.client import AsyncpgDBClient

        self.originals = (AsyncpgDBClient.execute_query, AsyncpgDBClient.execute_query_dict)
        plain, as_dict = self.originals
        sent = self.sent

        async def query(client: Any, sql: str, values: list | None = None) -> Any:
            sent.append((sql, list(values or [])))
            return await plain(client, sql, values)

        async def query_dict(client: Any, sql: str, values: list | None = None) -> Any:
            sent.append((sql, list(values or [])))
            return await as_dict(client, sql, values)

        AsyncpgDBClient.execute_query = query  # type: ignore[method-assign]
        AsyncpgDBClient.execute_query_dict = query_dict  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        from tortoise.backends.asyncpg.client import AsyncpgDBClient

        AsyncpgDBClient.execute_query, AsyncpgDBClient.execute_query_dict = self.originals  # type: ignore[method-assign]


class Rollback(Exception):
    """Raised inside a transaction to roll back what a measurement did."""


async def explain(tid: int, label: str, make: Callable[[], Awaitable[Any]], marker: str) -> None:
    """Run ``make`` in a rolled-back transaction recording its statements, then EXPLAIN (ANALYZE, BUFFERS) those
    naming ``marker`` in another rolled-back transaction (as the application role, in the tenant)."""
    from tenants.scope import tenant_transaction

    with Recorder() as rec:
        try:
            async with tenant_transaction(tid):
                await make()
                raise Rollback
        except Rollback:
            pass
    try:
        async with tenant_transaction(tid) as conn:
            for sql, values in rec.sent:
                if marker not in sql or "EXPLAIN" in sql:
                    continue
                rows = await conn.execute_query_dict(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", values)
                print(f"\n--- EXPLAIN {label}\n" + "\n".join(r["QUERY PLAN"] for r in rows), flush=True)
            raise Rollback
    except Rollback:
        pass
