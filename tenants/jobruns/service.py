"""Run a job body for the tenant in scope exactly once per (kind, period), crash- and race-safe.

Phase 1 commits a ``running`` row (INSERT .. ON CONFLICT DO NOTHING), so a run is visible while it works.
Each start is then counted (attempts, started_at) in its own transaction, so a killed runner's start counts.
Phase 2 locks that row (FOR UPDATE NOWAIT) and runs the body in the same transaction: a second worker either
finds the row locked (skips), finds it succeeded (no-op), or finds a crashed runner's row and takes it over.
A body that raises or is cancelled is rolled back whole, and the failure is recorded in its own transaction.
An explicit re-run is a new numbered run, identified by its ``rerun_key`` so that a re-delivered re-run is one run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asyncpg.exceptions import LockNotAvailableError
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.queryset import QuerySet

from tenants import clock
from tenants.errors import DomainError
from tenants.jobruns.models import JobRun, JobRunStatus
from tenants.paging import Page, Window, newest_first
from tenants.permissions import Caller, require
from tenants.records import granted
from tenants.scope import current_tenant_id, in_scoped_transaction, scoped_transaction
from tenants.tenancy.models import Tenant

log = logging.getLogger(__name__)

Body = Callable[[], Awaitable[dict[str, Any] | None]]

_INSERT = """
INSERT INTO job_run (tenant_id, kind, period_key, run_no, status, attempts, job_id, counts, created_at, started_at)
SELECT $1::bigint, $2::varchar, $3::varchar, {run_no}, 'running', 0, $4::varchar, '{{}}', now(), now()
{source}
ON CONFLICT DO NOTHING
"""
# Count a start before the body runs, in its own transaction, so that a worker killed mid-body (whose body
# transaction is rolled back whole) still leaves its attempt behind. A row locked by a live runner is skipped.
_COUNT_START = """
UPDATE job_run SET attempts = attempts + 1, started_at = $5::timestamptz
WHERE id = (SELECT id FROM job_run WHERE tenant_id = $1::bigint AND kind = $2::varchar AND period_key = $3::varchar
            AND run_no = $4::int AND status <> 'succeeded' FOR UPDATE SKIP LOCKED)
RETURNING id
"""
_NEXT_RUN_NO = "COALESCE(MAX(run_no), 0) + 1"
_SAME_PERIOD = "FROM job_run WHERE tenant_id = $1::bigint AND kind = $2::varchar AND period_key = $3::varchar"


@dataclass(frozen=True)
class RunOutcome:
    run: JobRun | None
    executed: bool
    reason: str  # "executed", "already_done", "in_progress"


async def _claim(kind: str, period_key: str, *, rerun_key: str | None, job_id: str | None) -> int:
    """Ensure the run row exists and return its run number."""
    params = [current_tenant_id(), kind, period_key, rerun_key or job_id]
    if rerun_key is None:
        async with scoped_transaction() as conn:
            await conn.execute_query(_INSERT.format(run_no="1", source=""), params)
        return 1
    for _ in range(20):
        # Concurrent re-runs of one period race for the next run number: the loser's insert does nothing
        # (or, under some interleavings, fails), finds no row of its own, and tries again.
        try:
            async with scoped_transaction() as conn:
                await conn.execute_query(_INSERT.format(run_no=_NEXT_RUN_NO, source=_SAME_PERIOD), params)
                rows = await conn.execute_query_dict(f"SELECT run_no {_SAME_PERIOD} AND job_id = $4::varchar", params)
            if rows:
                return rows[0]["run_no"]
        except IntegrityError:
            pass
        await asyncio.sleep(0.01)
    raise RuntimeError(f"could not number a re-run of {kind}/{period_key}")


async def execute(
    *,
    kind: str,
    period_key: str,
    body: Body,
    rerun_key: str | None = None,
    job_id: str | None = None,
) -> RunOutcome:
    """Run ``body`` for the tenant in scope unless this (kind, period) already ran or is running.

    ``rerun_key`` asks for an explicit re-run: a new run number, the same one for the same key.
    """
    if in_scoped_transaction():
        raise RuntimeError("jobruns.execute commits on its own; call it outside any transaction")
    run_no = await _claim(kind, period_key, rerun_key=rerun_key, job_id=job_id)
    this_run = JobRun.filter(kind=kind, period_key=period_key, run_no=run_no)
    async with scoped_transaction() as conn:
        await conn.execute_query(_COUNT_START, [current_tenant_id(), kind, period_key, run_no, clock.now()])
    try:
        async with scoped_transaction():
            try:
                run = await this_run.select_for_update(nowait=True).get()
            except (LockNotAvailableError, OperationalError) as exc:
                if isinstance(exc, LockNotAvailableError) or isinstance(exc.__cause__, LockNotAvailableError):
                    return RunOutcome(None, False, "in_progress")  # another worker holds it right now
                raise
            if run.status == JobRunStatus.SUCCEEDED:
                return RunOutcome(run, False, "already_done")
            counts = await body() or {}
            run.status = JobRunStatus.SUCCEEDED
            run.counts = counts
            run.error = None
            run.finished_at = clock.now()
            await run.save()
            return RunOutcome(run, True, "executed")
    except BaseException as exc:  # also a timeout or cancellation: the run must not stay "running" silently
        error = describe(exc)
        slug = await asyncio.shield(_record_failure(this_run, error))
        where = f"job {kind}/{period_key} run {run_no} of tenant {slug} (id {current_tenant_id()}) failed"
        if isinstance(exc, DomainError):  # an expected failure: its problems say it all, no traceback
            log.error("%s: %s", where, error)
        else:
            log.exception(where)
        raise


def describe(exc: BaseException) -> str:
    """What went wrong, for ``JobRun.error``: the code and every problem of an expected failure, one a line."""
    if not isinstance(exc, DomainError):
        return f"{type(exc).__name__}: {exc}"[:4000]
    lines = [f"{exc.code}: {exc.message_en} ({exc.message_zh})"]
    lines += [f"- {p.field or '(document)'}: {p.reason}: {p.message_en} ({p.message_zh})" for p in exc.problems]
    return "\n".join(lines)[:4000]


async def _record_failure(this_run: Any, error: str) -> str:
    """Mark the run failed with ``error``; returns the tenant's slug (for the log)."""
    async with scoped_transaction():
        await this_run.filter(status__not=JobRunStatus.SUCCEEDED).update(
            status=JobRunStatus.FAILED,
            error=error,
            finished_at=clock.now(),
        )
        tenant = await Tenant.get_or_none(id=current_tenant_id())
        return tenant.slug if tenant else "?"


async def statuses(kind: str, periods: list[str]) -> dict[str, JobRunStatus]:
    """The status of the scheduled run (run 1) of each of ``periods`` that has a row, for the tenant in scope."""
    async with scoped_transaction():
        rows = await JobRun.filter(kind=kind, run_no=1, period_key__in=periods).values_list("period_key", "status")
    return {period: JobRunStatus(status) for period, status in rows}


async def list_runs(
    *, access: Caller, kind: str | None, window: Window
) -> Page[JobRun]:
    """A window of the tenant's runs, newest first (keyset on created_at, id)."""
    require(access, "jobs.read")
    qs = JobRun.all()
    if kind:
        qs = qs.filter(kind=kind)
    return await newest_first(qs, window, time_field="created_at")


def readable(caller: Caller) -> QuerySet[JobRun]:
    """The tenant's job runs, for a caller who may read them."""
    return granted(caller, "jobs.read", JobRun.all())
