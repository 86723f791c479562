"""The configuration versions of each tenant, remembered across requests for as long as this process hears every
change to them.

A trigger on ``config_version`` (migration 0024) sends ``NOTIFY civicgrid_config, '<tenant id>'`` when a version is
added, withdrawn or removed (``'*'`` on TRUNCATE); PostgreSQL delivers it when that transaction commits. A process
that listens (the API: ``start()`` in its lifespan) keeps each tenant's versions and drops them on a notice, so
that a request that needs the configuration in force reads no version at all. While the listening connection is
down (a database restart, a network cut) nothing is remembered and every request reads the versions as before;
after it reconnects, it starts from nothing, since notices sent meanwhile were lost. Jobs and the CLI never
listen: they always read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from tenants import db
from tenants.tenancy import cache as tenant_cache

CHANNEL = "civicgrid_config"
KEEPALIVE_SECONDS = 10.0
log = logging.getLogger("civicgrid.config")


@dataclass(frozen=True)
class Version:
    version_no: int
    effective_from: date
    xmin: str
    schema_version: int


class _Watch:
    def __init__(self) -> None:
        self.live = False
        self.generation = 0  # bumped by every notice: a load that raced one is not kept
        self.versions: dict[int, tuple[Version, ...]] = {}
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    def forget(self, tenant: str) -> None:
        self.generation += 1
        if tenant == "*" or not tenant.isdigit():
            self.versions.clear()
        else:
            self.versions.pop(int(tenant), None)

    def _notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.forget(payload)

    def _lost(self, _conn: Any = None) -> None:
        if self.live:
            log.warning("config listener lost its connection: configuration versions are read per request")
        self.live = False
        self.forget("*")
        self._wake.set()  # the keeper reconnects now, not at its next check

    async def _listen(self, url: str) -> None:
        conn = await db.connect(url)
        conn.add_termination_listener(self._lost)
        await conn.add_listener(CHANNEL, self._notice)
        self._conn = conn
        self.forget("*")  # what was said while nobody listened is lost
        self.live = True

    async def _keep(self, url: str) -> None:
        """Listen, and check the connection every few seconds; reconnect when it is gone."""
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._lost()
                    await self._listen(url)
                else:
                    await asyncio.wait_for(self._conn.fetchval("SELECT 1"), KEEPALIVE_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost()
                await self._close()
                log.info("config listener cannot reach the database (%s); retrying", type(exc).__name__)
            self._wake.clear()  # next try after a pause: the database may be down for a while
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), KEEPALIVE_SECONDS)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def start(self, url: str) -> None:
        """Begin listening (the API's lifespan). A first failure is not fatal: the keeper retries."""
        self._wake = asyncio.Event()  # bound to this event loop
        with contextlib.suppress(Exception):
            await self._listen(url)
        self._task = asyncio.create_task(self._keep(url), name="civicgrid-config-watch")

    async def stop(self) -> None:
        self.live = False
        self.forget("*")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()


WATCH = _Watch()
start, stop = WATCH.start, WATCH.stop
# Tenant ids come back after the tests' reset, which tells no listener (its DELETE runs with triggers off).
tenant_cache.on_clear(lambda: WATCH.forget("*"))

_ALL_SQL = (
    "SELECT tenant_id, version_no, effective_from, xmin::text AS x, schema_version FROM config_version"
    " WHERE tenant_id = ANY($1::bigint[]) AND withdrawn_at IS NULL"
)


async def in_force(conn: Any, tenant_ids: list[int], day: date) -> list[tuple[int, int, str, int]] | None:
    """(tenant, version, xmin, schema version) in force on ``day`` for each tenant that has one, from what this process
    remembers (reading every version of the chain once when it knows none); None when it is not listening."""
    if not WATCH.live:
        return None
    known = {t: WATCH.versions[t] for t in tenant_ids if t in WATCH.versions}  # a notice may drop some meanwhile
    missing = [t for t in tenant_ids if t not in known]
    if missing:
        generation = WATCH.generation
        _, rows = await conn.execute_query(_ALL_SQL, [missing])
        loaded: dict[int, list[Version]] = {t: [] for t in missing}
        for r in rows:
            loaded[r["tenant_id"]].append(Version(r["version_no"], r["effective_from"], r["x"], r["schema_version"]))
        chain = {t: tuple(v) for t, v in loaded.items()}
        if WATCH.live and generation == WATCH.generation:
            WATCH.versions.update(chain)
        known.update(chain)
    result = []
    for t in tenant_ids:
        best = max((v for v in known[t] if v.effective_from <= day), key=lambda v: v.version_no, default=None)
        if best is not None:
            result.append((t, best.version_no, best.xmin, best.schema_version))
    return result
