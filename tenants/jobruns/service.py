"""Run a job body for the tenant in scope exactly once per (kind, period), crash- and race-safe.

Phase 1 commits a ``running`` row (INSERT .. ON CONFLICT DO NOTHING), so a run is visible while it works.
Phase 2 locks that row (FOR UPDATE NOWAIT) and runs the body in the same transaction: a second worker either
finds the row locked (skips), finds it succeeded (no-op), or finds a crashed runner's row and takes it over.
A body that raises is rolled back whole, and the failure is recorded in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncpg.exceptions import LockNotAvailableError
from tortoise.exceptions import OperationalError

from tenants.jobruns.models import JobRun, JobRunStatus
from tenants.scope import current_tenant_id, scoped_transaction

log = logging.getLogger(__name__)

Body = Callable[[], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class RunOutcome:
    run: JobRun | None
    executed: bool
    reason: str  # "executed", "already_done", "in_progress"


async def _claim(kind: str, period_key: str, *, rerun: bool, job_id: str | None) -> int:
    """Ensure the run row exists; return its run number."""
    tenant_id = current_tenant_id()
    async with scoped_transaction() as conn:
        if rerun:
            # An explicit re-run is a new, numbered record; the unique key serialises concurrent re-runs.
            rows = await conn.execute_query_dict(
                """
                INSERT INTO job_run (tenant_id, kind, period_key, run_no, status, attempts, job_id, counts,
                                     created_at)
                SELECT $1::bigint, $2::varchar, $3::varchar, COALESCE(MAX(run_no), 0) + 1, 'running', 0,
                       $4::varchar, '{}', now()
                FROM job_run WHERE tenant_id = $1::bigint AND kind = $2::varchar AND period_key = $3::varchar
                RETURNING run_no
                """,
                [tenant_id, kind, period_key, job_id],
            )
            return rows[0]["run_no"]
        await conn.execute_query(
            """
            INSERT INTO job_run (tenant_id, kind, period_key, run_no, status, attempts, job_id, counts,
                                 created_at)
            VALUES ($1, $2, $3, 1, 'running', 0, $4, '{}', now())
            ON CONFLICT (tenant_id, kind, period_key, run_no) DO NOTHING
            """,
            [tenant_id, kind, period_key, job_id],
        )
        rows = await conn.execute_query_dict(
            "SELECT max(run_no) AS n FROM job_run WHERE tenant_id = $1 AND kind = $2 AND period_key = $3",
            [tenant_id, kind, period_key],
        )
        return rows[0]["n"]


async def execute(
    *, kind: str, period_key: str, body: Body, rerun: bool = False, job_id: str | None = None
) -> RunOutcome:
    """Run ``body`` for the tenant in scope unless this (kind, period) already ran or is running."""
    run_no = await _claim(kind, period_key, rerun=rerun, job_id=job_id)
    try:
        async with scoped_transaction():
            try:
                run = (
                    await JobRun.filter(kind=kind, period_key=period_key, run_no=run_no)
                    .select_for_update(nowait=True)
                    .get()
                )
            except (LockNotAvailableError, OperationalError) as exc:
                if isinstance(exc, LockNotAvailableError) or isinstance(exc.__cause__, LockNotAvailableError):
                    return RunOutcome(None, False, "in_progress")  # another worker holds it right now
                raise
            if run.status == JobRunStatus.SUCCEEDED:
                return RunOutcome(run, False, "already_done")
            run.attempts += 1
            run.started_at = datetime.now(UTC)
            run.status = JobRunStatus.RUNNING
            run.job_id = job_id or run.job_id
            counts = await body() or {}
            run.status = JobRunStatus.SUCCEEDED
            run.counts = counts
            run.error = None
            run.finished_at = datetime.now(UTC)
            await run.save()
            return RunOutcome(run, True, "executed")
    except Exception as exc:
        log.exception("job %s/%s run %s failed", kind, period_key, run_no)
        async with scoped_transaction():
            await JobRun.filter(kind=kind, period_key=period_key, run_no=run_no).update(
                status=JobRunStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:4000],
                finished_at=datetime.now(UTC),
            )
        raise


async def list_runs(*, kind: str | None, after: tuple[datetime, int] | None, limit: int) -> list[JobRun]:
    """The tenant's runs, newest first, keyset-paginated on (created_at, id)."""
    from tortoise.expressions import Q

    qs = JobRun.all()
    if kind:
        qs = qs.filter(kind=kind)
    if after is not None:
        created, run_id = after
        qs = qs.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=run_id))
    return await qs.order_by("-created_at", "-id").limit(limit)
