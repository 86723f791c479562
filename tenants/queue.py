"""Queue arq jobs by name, and only after the database transaction that asked for them commits.

arq is maintenance-only upstream, so it stays behind this module: services call ``enqueue``; nothing else in
``tenants/`` touches arq.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool

from tenants.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedJob:
    function: str
    args: tuple[Any, ...]
    job_id: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)


_pending: ContextVar[list[QueuedJob] | None] = ContextVar("civicgrid_pending_jobs", default=None)
_pool: ArqRedis | None = None


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(url or get_settings().require_redis_url())


def set_pool(pool: ArqRedis | None) -> None:
    """Share an existing arq pool (the worker's own) instead of opening a second one."""
    global _pool
    _pool = pool


async def get_pool() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await create_pool(redis_settings())
    return _pool


async def close_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None


async def _send(job: QueuedJob) -> None:
    pool = await get_pool()
    await pool.enqueue_job(job.function, *job.args, _job_id=job.job_id, **job.kwargs)


async def enqueue(function: str, *args: Any, job_id: str | None = None, **kwargs: Any) -> None:
    """Queue ``function``; inside a transaction it waits for the commit, and is dropped on rollback."""
    job = QueuedJob(function, args, job_id, kwargs)
    pending = _pending.get()
    if pending is None:
        await _send(job)
    else:
        pending.append(job)


@asynccontextmanager
async def after_commit() -> AsyncIterator[None]:
    """Collect the jobs queued inside; hand them to the enclosing block, or send them when outermost."""
    parent = _pending.get()
    mine: list[QueuedJob] = []
    token = _pending.set(mine)
    try:
        yield
    finally:
        _pending.reset(token)
    # Reached only when the block (and so its transaction) ended without an exception.
    if parent is not None:
        parent.extend(mine)
        return
    for job in mine:
        # The data is committed: a Redis failure must not turn a saved change into an error for the caller.
        # Work lost here is picked up by the next scheduled tick, which every job kind has.
        try:
            await _send(job)
        except Exception:
            log.exception("could not queue %s (job id %s) after commit", job.function, job.job_id)
