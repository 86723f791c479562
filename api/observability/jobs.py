"""The worker's side: each job run counted (kind, outcome, duration) and traced, in whichever process runs it;
the worker's logging, tracing and metrics port set up at its start."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq import Retry

from api.observability import logs, metrics, tracing
from tenants.settings import Settings

F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])


def outcome_of(result: dict[str, Any]) -> str:
    if result.get("executed"):
        return "succeeded"
    return "failed" if result.get("reason") == "failed" else "skipped"


def observed_job(run: F) -> F:
    """``run_tenant_job(ctx, kind, tenant_id, period_key, ...)`` counted by kind and outcome (succeeded,
    skipped, failed, retried, cancelled) and inside a span."""

    @functools.wraps(run)
    async def observed(ctx: dict[str, Any], kind: str, tenant_id: int, period_key: str, *args: Any,
                       **kwargs: Any) -> dict[str, Any]:
        started = time.monotonic()
        outcome = "failed"
        with tracing.job_span(kind, tenant_id, period_key, ctx.get("job_try", 1)) as span:
            try:
                result = await run(ctx, kind, tenant_id, period_key, *args, **kwargs)
                outcome = outcome_of(result)
                return result
            except Retry:
                outcome = "retried"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            finally:
                metrics.observe_job(kind, outcome, time.monotonic() - started)
                if span is not None:
                    span.set_attribute("civicgrid.job.outcome", outcome)

    return observed  # type: ignore[return-value]


def counted_deliveries(counts: dict[str, int]) -> dict[str, int]:
    """A webhook delivery run's counts, added to the delivery metrics (returned as they are)."""
    metrics.observe_deliveries(counts)
    return counts


def start_worker(settings: Settings) -> None:
    """At the worker's start: its log format, its tracer (service ``civicgrid-worker``), its metrics port."""
    logs.configure(settings)
    tracing.setup(settings, service="civicgrid-worker")
    metrics.serve_worker_metrics(settings.worker_metrics_port)
