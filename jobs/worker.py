"""arq worker settings, the fan-out tick and the per-tenant job."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from arq import Retry, cron
from arq.constants import default_queue_name, health_check_key_suffix, in_progress_key_prefix
from arq.worker import Worker, async_check_health, get_kwargs
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise import Tortoise

from api.observability.jobs import counted_deliveries, observed_job, start_worker
from jobs import liveness
from jobs.kinds import KINDS
from jobs.liveness import worker_id
from tenants import clock, queue
from tenants.db import refuse_privileged_role, tortoise_config
from tenants.errors import Conflict, DomainError
from tenants.inbox import webhooks
from tenants.jobruns import service as jobruns
from tenants.jobruns.models import JobRunStatus
from tenants.scope import tenant_context
from tenants.settings import get_settings
from tenants.tenancy.service import active_tenants

log = logging.getLogger("civicgrid.jobs")

MAX_TRIES = 3
RETRY_BACKOFF_SECONDS = 60
# A started job's lease in Redis: renewed by its live worker every third of it, so the job of a killed or frozen
# worker is picked up by another one within this long (arq's own in-progress key outlives the job timeout).
LEASE_SECONDS = 45
REDIS_BACKOFF = (0.5, 10.0)  # seconds between polls while Redis is unreachable: first, most


def job_id(kind: str, tenant_id: int, period_key: str) -> str:
    """Deterministic: the same tick for the same tenant and period is one arq job."""
    return f"{kind}:{tenant_id}:{period_key}"


async def fan_out(ctx: dict[str, Any], kind: str, at: datetime | None = None) -> int:
    """Queue ``run_tenant_job`` for every due period of every active tenant (platform path); returns how many.

    Due: the current period, and within the kind's catch-up window (never before the tenant existed) every
    earlier one whose scheduled run never happened (a tick lost to an outage) or failed (its tries exhausted).
    A period that is due again is queued under a job id naming this tick, so that arq's kept result of the
    failed job does not swallow it.
    """
    spec = KINDS[kind]
    at = at or clock.now()
    tenants = await active_tenants()
    queued = 0
    for t in tenants:
        zone = ZoneInfo(t.timezone)
        periods = spec.due_periods(at, zone, t.created_at)
        current = spec.period(at, zone)
        with tenant_context(t.id):
            done = await jobruns.statuses(kind, periods) if len(periods) > 1 else {}
        for period in periods:
            status = done.get(period)
            if status == JobRunStatus.SUCCEEDED:
                continue
            again = period != current
            jid = job_id(kind, t.id, period) + (f"@{current}" if again else "")
            if again:
                log.info("fan-out %s: tenant %d period %s is %s, queued again", kind, t.id, period,
                         status.value if status else "missing")
            await queue.enqueue("run_tenant_job", kind, t.id, period, job_id=jid)
            queued += 1
    log.info("fan-out %s: %d tenants, %d runs queued", kind, len(tenants), queued)
    return queued


@observed_job  # counted by kind and outcome, and traced (api/observability/jobs.py)
async def run_tenant_job(
    ctx: dict[str, Any], kind: str, tenant_id: int, period_key: str, rerun: bool = False
) -> dict[str, Any]:
    """Run one job kind inside one tenant's scope, recorded as a JobRun."""
    spec = KINDS[kind]
    job = ctx.get("job_id")
    tries = ctx.get("job_try", 1)
    rerun_key = (job or f"rerun-{uuid.uuid4().hex}") if rerun else None
    what = f"job {kind} tenant {tenant_id} period {period_key}"
    log.info("%s: start (try %d)", what, tries)
    started = time.monotonic()
    try:
        with tenant_context(tenant_id):
            outcome = await jobruns.execute(
                kind=kind, period_key=period_key, body=spec.run, rerun_key=rerun_key, job_id=job
            )
    except BaseException as exc:
        took = time.monotonic() - started
        if isinstance(exc, DomainError) and not isinstance(exc, Conflict):
            # The tenant's data (its configuration, say) is wrong: trying again fails the same way. The run and
            # the log already name the tenant and every problem; arq need not log a traceback too.
            log.info("%s: failed in %.3f s (%s, not retried)", what, took, exc.code)
            return {"executed": False, "reason": "failed", "code": exc.code}
        if isinstance(exc, Exception) and tries < MAX_TRIES:  # recorded on the run; try again later, backing off
            log.warning("%s: failed in %.3f s (try %d of %d, retried): %s", what, took, tries, MAX_TRIES,
                        jobruns.describe(exc))
            raise Retry(defer=RETRY_BACKOFF_SECONDS * tries) from exc
        log.warning("%s: failed in %.3f s (try %d of %d, given up): %s", what, took, tries, MAX_TRIES,
                    jobruns.describe(exc))
        raise
    log.info("%s: %s in %.3f s", what, "finished" if outcome.executed else f"skipped ({outcome.reason})",
             time.monotonic() - started)
    return {"executed": outcome.executed, "reason": outcome.reason}


async def tick_daily(ctx: dict[str, Any]) -> int:
    return await fan_out(ctx, "data_volume") + await fan_out(ctx, "bond_top_ups")


async def tick_hourly(ctx: dict[str, Any]) -> int:
    kinds = ("assessment", "settlement", "file_cleanup", "points_nightly", "grid_pay")
    kinds += ("voucher_expiry", "partner_statements")  # issue 17 part B
    kinds += ("dual_wishes",)  # issue 18 part C
    kinds += ("dual_activities",)  # issue 18 part D
    kinds += ("dual_rules", "dual_year_end")  # issue 18 part E
    kinds += ("meetings_hourly",)  # issue 19 part B
    return sum([await fan_out(ctx, kind) for kind in kinds])


async def deliver_webhooks(ctx: dict[str, Any], tenant_id: int) -> dict[str, int]:
    """Send a tenant's due webhook deliveries (no JobRun: HTTP calls must not sit inside its transaction)."""
    with tenant_context(tenant_id):
        return counted_deliveries(await webhooks.deliver_due(now=clock.now()))


async def tick_reminders(ctx: dict[str, Any]) -> int:
    """Every reminder interval: one reminder run and one webhook delivery run per active tenant."""
    at = clock.now()
    queued = await fan_out(ctx, "ticket_reminders", at=at)
    for t in await active_tenants():
        minute = KINDS["ticket_reminders"].period(at, ZoneInfo(t.timezone))
        await queue.enqueue("deliver_webhooks", t.id, job_id=job_id("webhooks", t.id, minute))
    return queued


def _every(minutes: int) -> set[int]:
    return set(range(0, 60, max(1, min(minutes, 60))))


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    start_worker(settings)  # logs, traces and the metrics port (api/observability/jobs.py)
    await refuse_privileged_role(settings.require_database_url())
    await Tortoise.init(config=tortoise_config(settings.require_database_url(), pool_size=settings.db_pool_size))
    queue.set_pool(ctx["redis"])
    gc.collect()  # start-up's objects out of the collector's sight (as the API's lifespan does)
    gc.freeze()


async def shutdown(ctx: dict[str, Any]) -> None:
    queue.set_pool(None)
    await Tortoise.close_connections()


class WorkerSettings:
    functions = [run_tenant_job, fan_out, deliver_webhooks]
    # 00:30 UTC is 08:30 in Asia/Shanghai: yesterday's work is in, today's has barely begun.
    cron_jobs = [
        cron(tick_daily, hour={0}, minute={30}, unique=True, run_at_startup=False),
        cron(tick_hourly, minute={5}, unique=True, run_at_startup=False),
        cron(
            tick_reminders,
            minute=_every(get_settings().reminder_interval_minutes),
            second={0},
            unique=True,
            run_at_startup=False,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    max_tries = MAX_TRIES
    job_timeout = 600
    keep_result = 3600
    health_check_interval = 30


def worker_settings() -> type[WorkerSettings]:
    """``WorkerSettings`` bound to REDIS_URL (arq reads redis_settings from the class)."""
    attrs = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("__")}
    return type("BoundWorkerSettings", (), {**attrs, "redis_settings": queue.redis_settings()})


class CivicWorker(Worker):
    """arq's worker with leases on running jobs (a job whose worker died is picked up within ``lease_seconds``)."""

    def __init__(self, *args: Any, lease_seconds: float = LEASE_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat = liveness.Heartbeat(liveness.heartbeat_file())  # this worker's own, for its probe
        self.lease_seconds = lease_seconds
        self.in_progress_timeout_s = lease_seconds  # what start_jobs sets on a job's in-progress key
        self._renewed_at = 0.0
        self._redis_down_since: float | None = None
        self._backoff = REDIS_BACKOFF[0]

    async def _poll_iteration(self) -> None:
        """One poll; while Redis is unreachable, wait (backing off) and carry on, logging each change once."""
        self.heartbeat.beat()
        try:
            await super()._poll_iteration()
        except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError) as exc:
            if self._redis_down_since is None:
                self._redis_down_since = time.monotonic()
                log.error("worker: Redis unreachable (%s: %s); retrying with back-off", type(exc).__name__, exc)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, REDIS_BACKOFF[1])
            return
        if self._redis_down_since is not None:
            log.warning("worker: Redis reachable again after %.1f s", time.monotonic() - self._redis_down_since)
            self._redis_down_since = None
            self._backoff = REDIS_BACKOFF[0]

    async def heart_beat(self) -> None:
        await super().heart_beat()
        await self.renew_leases()

    async def renew_leases(self) -> None:
        """Extend the in-progress key of each job this worker is running (a third of the lease at the latest)."""
        if time.monotonic() - self._renewed_at < self.lease_seconds / 3:
            return
        self._renewed_at = time.monotonic()
        running = [jid for jid, task in self.tasks.items() if not task.done()]
        if running:
            async with self.pool.pipeline(transaction=False) as pipe:
                for jid in running:
                    pipe.pexpire(in_progress_key_prefix + jid, int(self.lease_seconds * 1000))
                await pipe.execute()


def health_key(name: str) -> str:
    """Each worker records its own health (arq's one shared key would let a frozen replica pass its probe)."""
    return f"{default_queue_name}{health_check_key_suffix}:{name}"


def create_worker(**overrides: Any) -> CivicWorker:
    """The worker ``civicgrid worker`` runs: ``WorkerSettings`` bound to REDIS_URL, with ``overrides``.

    On SIGTERM/SIGINT it takes no new job and gives the running ones CIVICGRID_SHUTDOWN_SECONDS to finish, then
    cancels them (recorded as failed, retried by arq or the next tick; their leases let another worker take them).
    """
    settings: Any = worker_settings()
    drain = {"job_completion_wait": get_settings().shutdown_seconds}
    return CivicWorker(**{**get_kwargs(settings), **drain, "health_check_key": health_key(worker_id()), **overrides})


async def check(name: str | None = None) -> int:
    """0 when the worker ``name`` (this one by default) recorded its health within its interval (31 s), else 1."""
    return await async_check_health(queue.redis_settings(), health_key(name or worker_id()))
