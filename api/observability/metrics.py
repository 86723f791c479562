"""Prometheus metrics: what the API and the worker count as they go, and what /metrics reads when scraped
(the database pool, the job queue in Redis, the webhook backlog).

Labels are bounded: a GraphQL operation is its name when it looks like one (``[A-Za-z_][A-Za-z0-9_]{0,63}``) and
is among the first ``CIVICGRID_METRICS_MAX_OPERATIONS`` names this process saw, ``anonymous`` without a name,
``other`` beyond; a handler is its route's path template; the tenant slug appears only on the backlog."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.http_errors import error_response
from tenants import clock, queue
from tenants.inbox.backlog import webhook_backlog
from tenants.settings import Settings

log = logging.getLogger("civicgrid.metrics")

OUTCOMES = ("ok", "client_error", "server_error", "unauthenticated")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

HTTP_REQUESTS = Counter(
    "civicgrid_http_requests", "HTTP requests by route, GraphQL operation and outcome",
    ["handler", "operation", "outcome"],
)
HTTP_DURATION = Histogram(
    "civicgrid_http_request_duration_seconds", "HTTP request latency by route, GraphQL operation and outcome",
    ["handler", "operation", "outcome"], buckets=LATENCY_BUCKETS,
)
JOB_RUNS = Counter("civicgrid_job_runs", "Job runs by kind and outcome (succeeded, skipped, failed, retried)",
                   ["kind", "outcome"])
JOB_DURATION = Histogram("civicgrid_job_duration_seconds", "Job run duration by kind and outcome",
                         ["kind", "outcome"], buckets=JOB_BUCKETS)
WEBHOOK_DELIVERIES = Counter("civicgrid_webhook_deliveries",
                             "Webhook delivery attempts by outcome (delivered, retrying, failed)", ["outcome"])
# Read when scraped: with several processes (PROMETHEUS_MULTIPROC_DIR), the most recent reading of any of them.
QUEUE_DEPTH = Gauge("civicgrid_queue_jobs", "Jobs in the arq queue (read when scraped): ready to run, or deferred",
                    ["state"], multiprocess_mode="mostrecent")
BACKLOG = Gauge("civicgrid_notification_backlog", "Webhook deliveries pending, per tenant (read when scraped)",
                ["tenant"], multiprocess_mode="mostrecent")
BACKLOG_AGE = Gauge("civicgrid_notification_backlog_oldest_seconds",
                    "How long the oldest due webhook delivery has waited, per tenant (read when scraped)", ["tenant"],
                    multiprocess_mode="mostrecent")
SOURCE_UP = Gauge("civicgrid_metrics_source_up", "Whether the last scrape could read a source (1) or not (0)",
                  ["source"], multiprocess_mode="mostrecent")



class OperationNames:
    """A label for each GraphQL operation, by its type and first root field (``query.tickets``: the schema bounds
    them, however clients name their operations), with a ceiling on how many distinct ones a process reports."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if name is None:  # no GraphQL ran (refused before: 401, 413, ...)
            return "anonymous"
        if name == "other" or name in self.seen:
            return name
        with self._lock:
            if len(self.seen) >= self.limit:
                return "other"
            self.seen.add(name)
        return name


def observe_request(handler: str, operation: str, outcome: str, seconds: float) -> None:
    HTTP_REQUESTS.labels(handler, operation, outcome).inc()
    HTTP_DURATION.labels(handler, operation, outcome).observe(seconds)


def observe_job(kind: str, outcome: str, seconds: float) -> None:
    """A job run, counted in the process that ran it (the worker, or the API or a test that ran it in-process)."""
    JOB_RUNS.labels(kind, outcome).inc()
    JOB_DURATION.labels(kind, outcome).observe(seconds)


def observe_deliveries(counts: dict[str, int]) -> None:
    for outcome in ("delivered", "retrying", "failed"):
        if counts.get(outcome):
            WEBHOOK_DELIVERIES.labels(outcome).inc(counts[outcome])


class PoolCollector(Collector):
    """The asyncpg pool of this process's database connection, read when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = _pool()
        if pool is None:
            return
        size, idle, most = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
        getters = getattr(getattr(pool, "_queue", None), "_getters", ())  # tasks waiting in acquire()
        waiting = sum(1 for f in getters if not f.done())
        yield GaugeMetricFamily("civicgrid_db_pool_in_use", "Database connections in use", value=size - idle)
        yield GaugeMetricFamily("civicgrid_db_pool_idle", "Database connections open and idle", value=idle)
        yield GaugeMetricFamily("civicgrid_db_pool_max", "Database pool size limit", value=most)
        yield GaugeMetricFamily("civicgrid_db_pool_waiting", "Requests waiting for a database connection",
                                value=waiting)


def _pool() -> Any:
    from tortoise.connection import connections

    try:
        return getattr(connections.get("default"), "_pool", None)
    except Exception:  # Tortoise not initialised in this process (yet)
        return None


_collector_registered = False


def register_pool_collector() -> None:
    global _collector_registered
    if not _collector_registered:
        REGISTRY.register(PoolCollector())
        _collector_registered = True


class ScrapeReads:
    """What /metrics reads from Redis and the database when scraped, at most once per ``cache_seconds``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.read_at = float("-inf")
        self._lock = asyncio.Lock()
        self._tenants: set[str] = set()

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self.read_at < self.settings.metrics_cache_seconds:
                return
            await asyncio.gather(self._queue(), self._backlog())
            self.read_at = time.monotonic()

    async def _queue(self) -> None:
        try:
            pool = await queue.get_pool()
            name = pool.default_queue_name
            now_ms = int(clock.now().timestamp() * 1000)  # arq scores a job by when it may run, in ms
            total, ready = await asyncio.gather(pool.zcard(name), pool.zcount(name, "-inf", now_ms))
        except Exception as exc:
            SOURCE_UP.labels("redis").set(0)
            log.warning("metrics: the job queue could not be read: %s", type(exc).__name__)
            return
        SOURCE_UP.labels("redis").set(1)
        QUEUE_DEPTH.labels("ready").set(ready)
        QUEUE_DEPTH.labels("deferred").set(total - ready)

    async def _backlog(self) -> None:
        try:
            rows = await webhook_backlog(now=clock.now())
        except Exception as exc:
            SOURCE_UP.labels("database").set(0)
            log.warning("metrics: the notification backlog could not be read: %s", type(exc).__name__)
            return
        SOURCE_UP.labels("database").set(1)
        current = {r.tenant_slug for r in rows}
        for gone in self._tenants - current:  # a deactivated tenant's series end
            BACKLOG.remove(gone)
            BACKLOG_AGE.remove(gone)
        self._tenants = current
        for r in rows:
            BACKLOG.labels(r.tenant_slug).set(r.pending)
            BACKLOG_AGE.labels(r.tenant_slug).set(r.oldest_due_seconds)


def scrape_registry() -> CollectorRegistry:
    """What /metrics writes: this process's registry, or with ``PROMETHEUS_MULTIPROC_DIR`` (``civicgrid api`` with
    several worker processes) every process's counters summed, plus the serving process's pool."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(PoolCollector())
    return registry


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_route(settings: Settings) -> Route:
    """``GET /metrics`` in Prometheus' text format; behind ``CIVICGRID_METRICS_TOKEN`` (a bearer) when it is set."""
    register_pool_collector()
    reads = ScrapeReads(settings)
    if settings.env == "production" and not settings.metrics_token:
        logging.getLogger("civicgrid.metrics").warning(
            "/metrics is open (no CIVICGRID_METRICS_TOKEN): keep the API's port off any public ingress")

    async def endpoint(request: Request) -> Response:
        if settings.metrics_token and not _authorized(request, settings.metrics_token):
            return error_response(401, "UNAUTHENTICATED", "需要指标令牌", "a metrics token is required",
                                  field="Authorization", headers={"WWW-Authenticate": "Bearer"})
        await reads.refresh()
        return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", endpoint, methods=["GET"])


def serve_worker_metrics(port: int | None, addr: str = "0.0.0.0") -> Any:
    """The worker's own /metrics (job runs, deliveries, its pool, the process) on ``port``, in a thread; returns
    the server (None when no port is set)."""
    if port is None:
        return None
    from prometheus_client import start_http_server

    register_pool_collector()
    server, _ = start_http_server(port, addr=addr)
    log.info("worker metrics on port %d", port)
    return server
