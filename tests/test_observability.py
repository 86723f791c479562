"""Observability: /metrics after a query, a mutation and a job run; request ids on every answer and in error
extensions; JSON log lines; a GraphQL request's spans (README, "Observability")."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from api.observability import logs, tracing
from api.observability.metrics import OperationNames
from api.schema import schema
from jobs.worker import deliver_webhooks, run_tenant_job
from tenants import clock
from tenants.inbox.models import WebhookDelivery
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant

ME = "query Me { me { roles tenant { slug } } }"
CREATE = """mutation AddHook {
  createWebhookEndpoint(url: "https://example.org/hook", secret: "s3cret-0123456789ab") { id } }"""


@pytest.fixture
async def tenant(app: Any) -> Any:
    return await create_tenant(slug="linshu", name="临沭县")


@pytest.fixture
def fresh_scrapes(settings, monkeypatch):
    """Every scrape reads Redis and the database again (the cache window is a setting)."""
    monkeypatch.setattr(settings, "metrics_cache_seconds", 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[tuple[str, tuple], float]:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_show_a_query_a_mutation_and_a_job_run(client, gql, token, tenant, fresh_scrapes):
    before = await scrape(client)
    admin = token(tenant.slug, Role.TENANT_ADMIN, user_id="admin-1")
    assert (await gql(ME, admin))["data"]["me"]["tenant"]["slug"] == "linshu"
    assert "errors" not in await gql(CREATE, admin)
    denied = await gql(CREATE, token(tenant.slug, Role.RESIDENT))  # FORBIDDEN: the client's error
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await client.post("/graphql", json={"query": "{ __typename }"})  # no token: 401
    day = clock.now().date().isoformat()
    assert (await run_tenant_job({}, "data_volume", tenant.id, day))["executed"]
    assert not (await run_tenant_job({}, "data_volume", tenant.id, day))["executed"]  # the period ran: skipped

    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    graphql = {"handler": "/graphql"}
    assert grew("civicgrid_http_requests_total", **graphql, operation="query.me", outcome="ok") == 1
    hook = "mutation.createWebhookEndpoint"
    assert grew("civicgrid_http_requests_total", **graphql, operation=hook, outcome="ok") == 1
    assert grew("civicgrid_http_requests_total", **graphql, operation=hook, outcome="client_error") == 1
    assert grew("civicgrid_http_requests_total", **graphql, operation="anonymous", outcome="unauthenticated") == 1
    assert grew("civicgrid_http_request_duration_seconds_count", **graphql, operation="query.me", outcome="ok") == 1
    assert grew("civicgrid_job_runs_total", kind="data_volume", outcome="succeeded") == 1
    assert grew("civicgrid_job_runs_total", kind="data_volume", outcome="skipped") == 1
    assert grew("civicgrid_job_duration_seconds_count", kind="data_volume", outcome="succeeded") == 1
    assert value(after, "civicgrid_db_pool_max") == 20 and value(after, "civicgrid_db_pool_in_use") >= 0
    assert value(after, "civicgrid_db_pool_waiting") == 0
    assert ("civicgrid_queue_jobs", (("state", "ready"),)) in after
    assert value(after, "civicgrid_notification_backlog", tenant="linshu") == 0
    assert value(after, "civicgrid_metrics_source_up", source="database") == 1


async def test_notification_backlog_and_webhook_deliveries(client, tenant, fresh_scrapes):
    async with tenant_transaction(tenant.id):  # a delivery to an endpoint that is gone, due a minute ago
        await WebhookDelivery.create(endpoint_id=999, event="ticket.due_soon", payload={},
                                     next_attempt_at=clock.now() - timedelta(minutes=1))
    first = await scrape(client)
    assert value(first, "civicgrid_notification_backlog", tenant="linshu") == 1
    assert 55 <= value(first, "civicgrid_notification_backlog_oldest_seconds", tenant="linshu") < 600
    assert await deliver_webhooks({}, tenant.id) == {"claimed": 1, "delivered": 0, "retrying": 0, "failed": 1}
    second = await scrape(client)
    assert value(second, "civicgrid_notification_backlog", tenant="linshu") == 0
    failed = "civicgrid_webhook_deliveries_total"
    assert value(second, failed, outcome="failed") - value(first, failed, outcome="failed") == 1


async def test_metrics_token_when_set(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "metrics_token", "metrics-token-0123456789")
    refused = await client.get("/metrics", headers={"X-Request-ID": "scrape-1"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] == "scrape-1"
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    samples = await scrape(client, Authorization="Bearer metrics-token-0123456789")
    assert any(name == "civicgrid_http_requests_total" for name, _ in samples)


def test_the_default_ceiling_holds_every_root_field_of_the_schema():
    """Labels are bounded by the schema: the default ceiling must hold all its root fields (and ``invalid``), or a
    long-running API counts its later operations as ``other``."""
    graphql = schema._schema
    fields = len(graphql.query_type.fields) + len(graphql.mutation_type.fields) + 1
    assert Settings.model_fields["metrics_max_operations"].default > fields


def test_operation_labels_are_bounded():
    names = OperationNames(limit=2)
    assert [names.label(n) for n in (None, "query.me", "query.tickets", "mutation.reportTicket", "query.me")] == [
        "anonymous", "query.me", "query.tickets", "other", "query.me"]


async def test_metrics_label_the_root_field_not_the_name_a_client_gives(client, gql, token, tenant, fresh_scrapes):
    """205 operations named by a resident as they please take no label from the admin's: each is counted by its
    type and first root field, and a document naming no field of the schema as ``invalid``."""
    resident, admin = token(tenant.slug, Role.RESIDENT), token(tenant.slug)
    before = await scrape(client)
    for i in range(205):
        await gql(f"query junk{i} {{ __typename }}", resident)
    await gql("query LegitMe { me { userId } }", admin)
    await gql("query Nope { nothingHere }", admin)
    after = await scrape(client)
    labels = {dict(k[1]).get("operation") for k in after if k[0] == "civicgrid_http_requests_total"}
    assert {"query.__typename", "query.me", "invalid"} <= labels and not any("junk" in str(x) for x in labels)

    def grew(**labels: str) -> float:
        return (value(after, "civicgrid_http_requests_total", handler="/graphql", **labels)
                - value(before, "civicgrid_http_requests_total", handler="/graphql", **labels))
    assert grew(operation="query.__typename", outcome="ok") == 205
    assert grew(operation="query.me", outcome="ok") == 1


async def test_request_id_round_trip_and_generated(client, gql, token, tenant):
    admin = token(tenant.slug)
    kept = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {admin}",
                                                                       "X-Request-ID": "lb-7f3a.01:2"})
    assert kept.headers["x-request-id"] == "lb-7f3a.01:2"
    made = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {admin}"})
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != kept.headers["x-request-id"]
    for insane in ("x" * 129, "a b", "<script>", "-leading-dash"):
        replaced = await client.get("/healthz", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] != insane and len(replaced.headers["x-request-id"]) == 32
    # Every answer carries it: a 401, a 413, a 404, a 405.
    unauthenticated = await client.post("/graphql", json={"query": ME}, headers={"X-Request-ID": "r-401"})
    assert unauthenticated.status_code == 401 and unauthenticated.headers["x-request-id"] == "r-401"
    assert unauthenticated.json()["errors"][0]["extensions"]["requestId"] == "r-401"
    big = await client.post("/graphql", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json",
                                     "X-Request-ID": "r-413"})
    assert big.status_code == 413 and big.headers["x-request-id"] == "r-413"
    assert big.json()["errors"][0]["extensions"]["requestId"] == "r-413"
    assert (await client.get("/nowhere", headers={"X-Request-ID": "r-404"})).headers["x-request-id"] == "r-404"
    assert (await client.delete("/healthz")).headers["x-request-id"]


async def test_request_id_in_graphql_error_extensions(client, token, tenant):
    headers = {"Authorization": f"Bearer {token(tenant.slug, Role.RESIDENT)}", "X-Request-ID": "err-42"}
    body = (await client.post("/graphql", json={"query": CREATE}, headers=headers)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["extensions"]["requestId"] == "err-42"
    invalid = (await client.post("/graphql", json={"query": "{ nope }"}, headers=headers)).json()
    assert invalid["errors"][0]["extensions"]["requestId"] == "err-42"


async def test_json_log_line_has_the_request_fields_and_no_personal_data(client, token, tenant, caplog):
    caplog.set_level(logging.INFO, logger="civicgrid.access")
    admin = token(tenant.slug, Role.TENANT_ADMIN, user_id="u-17")
    query = 'mutation AddHook($s: String!) { createWebhookEndpoint(url: "https://example.org/h", secret: $s) { id } }'
    await client.post("/graphql", json={"query": query, "variables": {"s": "secret-张三-13800138000"}},
                      headers={"Authorization": f"Bearer {admin}", "X-Request-ID": "log-1"})
    [record] = [r for r in caplog.records if r.name == "civicgrid.access" and getattr(r, "request_id", "") == "log-1"]
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["request_id"] == "log-1" and line["tenant"] == "linshu" and line["user"] == "u-17"
    assert line["operation"] == "AddHook" and line["operation_type"] == "mutation"
    assert line["outcome"] == "ok" and line["status"] == 200 and line["duration_ms"] > 0
    assert line["handler"] == "/graphql" and line["level"] == "info" and line["logger"] == "civicgrid.access"
    text = json.dumps(line, ensure_ascii=False)
    assert "13800138000" not in text and "张三" not in text and admin not in text and "secret" not in text


def test_log_filter_names_the_request_on_every_line():
    from api.observability import requests

    record = logging.LogRecord("civicgrid.jobs", logging.INFO, __file__, 1, "hello", None, None)
    info, reset = requests.begin("rid-9")
    info.tenant, info.user = "linshu", "u-1"
    try:
        logs.RequestFilter().filter(record)
    finally:
        requests.end(reset)
    line = json.loads(logs.JsonFormatter().format(record))
    assert (line["request_id"], line["tenant"], line["user"], line["message"]) == ("rid-9", "linshu", "u-1", "hello")
    outside = logging.LogRecord("civicgrid.jobs", logging.INFO, __file__, 1, "later", None, None)
    logs.RequestFilter().filter(outside)
    assert outside.request_id == "-" and "request_id" not in json.loads(logs.JsonFormatter().format(outside))


async def test_a_graphql_request_is_traced(app, settings, token, tenant):
    from api.app import create_app

    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        traced = create_app(settings)  # its routes share the session's database connections
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=traced), base_url="http://test") as c:
            resp = await c.post("/graphql", json={"query": ME}, headers={
                "Authorization": f"Bearer {token(tenant.slug)}", "X-Request-ID": "trace-1",
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
        assert resp.json()["data"]["me"]["tenant"]["slug"] == "linshu"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=traced), base_url="http://test") as c:
            await c.get("/healthz")
        day = clock.now().date().isoformat()
        await run_tenant_job({}, "data_volume", tenant.id, day)
    finally:
        tracing.uninstall()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    server = spans["POST /graphql Me"]
    assert server.attributes["civicgrid.request_id"] == "trace-1"
    assert server.attributes["http.response.status_code"] == 200
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    operation = spans["GraphQL Me"]
    assert operation.parent.span_id == server.context.span_id
    assert operation.attributes["graphql.operation.type"] == "query" and "query" not in operation.attributes
    assert any(s.attributes.get("db.system") == "postgresql" for s in spans.values())  # asyncpg's spans
    assert spans["job data_volume"].attributes["civicgrid.job.outcome"] == "succeeded"
    assert "GET /healthz" in spans


async def test_a_server_error_carries_the_request_id_and_is_counted(monkeypatch):
    from starlette.routing import Route

    from api.app import App
    from api.http_errors import EXCEPTION_HANDLERS
    from api.observability import metrics

    async def boom(request: Any) -> Any:
        raise RuntimeError("boom")

    app = App(routes=[Route("/boom", boom)], exception_handlers=EXCEPTION_HANDLERS)
    app.observe = {"operations": OperationNames(10), "tracer": None}
    seen: list[str] = []
    monkeypatch.setattr(metrics, "observe_request", lambda handler, operation, outcome, seconds: seen.append(outcome))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        resp = await c.get("/boom", headers={"X-Request-ID": "r-500"})
    assert resp.status_code == 500 and resp.headers["x-request-id"] == "r-500"
    assert resp.json()["errors"][0]["extensions"] == {
        "code": "INTERNAL_ERROR", "field": None, "messageZh": "服务器内部错误", "messageEn": "Unexpected error",
        "requestId": "r-500"}
    assert seen == ["server_error"]


async def test_the_worker_serves_its_job_metrics_on_its_own_port(tenant):
    import socket

    from api.observability.metrics import serve_worker_metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve_worker_metrics(port, addr="127.0.0.1")
    try:
        await run_tenant_job({}, "data_volume", tenant.id, clock.now().date().isoformat())
        async with httpx.AsyncClient() as c:
            text = (await c.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        server.shutdown()
        server.server_close()
    assert 'civicgrid_job_runs_total{kind="data_volume",outcome="succeeded"}' in text
    assert "civicgrid_db_pool_max 20.0" in text


def test_the_log_format_is_a_setting(settings, monkeypatch):
    def ours() -> logging.Handler:
        [handler] = [h for h in logging.getLogger().handlers if getattr(h, logs._MARK, False)]
        return handler

    monkeypatch.setattr(settings, "log_format", "json")
    logs.configure(settings)
    try:
        assert isinstance(ours().formatter, logs.JsonFormatter)
    finally:
        monkeypatch.undo()
        logs.configure(settings)
    assert not isinstance(ours().formatter, logs.JsonFormatter)
    assert logging.getLogger("uvicorn.access").level == logging.WARNING  # civicgrid.access writes one line instead
