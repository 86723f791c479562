"""The outermost layer of the app: a request id for every request (kept from a sane ``X-Request-ID`` or made),
returned on every response; the request's metrics, its span and its access log line."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.observability import metrics, requests

access_log = logging.getLogger("civicgrid.access")
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: counted, logged only at DEBUG
SERVER_CODES = frozenset({"INTERNAL_ERROR", "UNAVAILABLE"})
_HEADER = requests.HEADER.lower().encode()


def outcome_of(status: int, info: requests.RequestInfo, failed: bool) -> str:
    if failed or status >= 500:
        return "server_error"
    if status == 401:
        return "unauthenticated"
    if status >= 400:
        return "client_error"
    return info.outcome or "ok"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def _handler(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class Observe:
    """ASGI middleware around the whole app (outside Starlette's error handling, so a 500 carries the id too)."""

    def __init__(self, app: ASGIApp, *, operations: metrics.OperationNames, tracer: Tracer | None = None) -> None:
        self.app = app
        self.operations = operations
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info, token = requests.begin(requests.request_id_from(_header(scope, _HEADER)))
        raw_id = info.request_id.encode()
        status = 0  # no answer yet
        failed = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER]
                message = {**message, "headers": [*headers, (_HEADER, raw_id)]}
            await send(message)

        try:
            with self._span(scope) as span:
                try:
                    await self.app(scope, receive, send_with_id)
                except BaseException:
                    failed = True
                    raise
                finally:
                    if status == 0:  # nothing was sent: the app failed, or the client left before its answer
                        status = 500 if failed else 499
                    if span is not None:
                        self._finish(span, scope, info, status, failed)
        finally:
            seconds = time.perf_counter() - started
            handler = _handler(scope)
            outcome = outcome_of(status, info, failed)
            operation = self.operations.label(info.root) if handler == "/graphql" else ""
            metrics.observe_request(handler, operation, outcome, seconds)
            level = logging.DEBUG if handler in QUIET else logging.INFO
            if access_log.isEnabledFor(level):
                access_log.log(
                    level, "%s %s %d %s %.1f ms", scope.get("method"), handler, status, outcome, seconds * 1000,
                    extra={"request_id": info.request_id, "tenant": info.tenant, "user": info.user,
                           "handler": handler, "status": status, "outcome": outcome,
                           "duration_ms": round(seconds * 1000, 1), "operation": info.operation,
                           "operation_type": info.operation_type},
                )
            requests.end(token)

    @contextlib.contextmanager
    def _span(self, scope: Scope) -> Iterator[Any]:
        if self.tracer is None:
            yield None
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        method = scope.get("method", "GET")
        with self.tracer.start_as_current_span(
            f"{method} {scope.get('path', '')}", context=propagate.extract(carrier), kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
            record_exception=False, set_status_on_exception=False,
        ) as span:
            yield span

    @staticmethod
    def _finish(span: Any, scope: Scope, info: requests.RequestInfo, status: int, failed: bool) -> None:
        handler = _handler(scope)
        span.update_name(f"{scope.get('method', 'GET')} {handler}" + (f" {info.operation}" if info.operation else ""))
        span.set_attribute("http.route", handler)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("civicgrid.request_id", info.request_id)
        if info.operation:
            span.set_attribute("graphql.operation.name", info.operation)
        if info.tenant:
            span.set_attribute("civicgrid.tenant", info.tenant)
        if failed or status >= 500:
            span.set_status(Status(StatusCode.ERROR))


_INTROSPECTION = frozenset({"__typename", "__schema", "__type"})


def root_field(ctx: Any) -> str:
    """The operation's type and first root field (``query.tickets``, ``mutation.reportTicket``): the metrics'
    label, bounded by the schema whatever names a client gives its operations; ``invalid`` when the document
    names no such field (or did not parse)."""
    document = ctx.graphql_document
    if document is None:
        return "invalid"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if ctx.operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == ctx.operation_name]
    if len(operations) != 1:
        return "invalid"
    operation = operations[0]
    root = ctx.schema._schema.get_root_type(operation.operation)
    first = next((s for s in operation.selection_set.selections if isinstance(s, FieldNode)), None)
    if root is None or first is None or (first.name.value not in root.fields and first.name.value not in
                                         _INTROSPECTION):
        return "invalid"
    return f"{operation.operation.value}.{first.name.value}"


class ObserveOperation(SchemaExtension):
    """Tells the request's record (logs, metrics, span) which tenant, user and operation a GraphQL request is,
    and whether it ended with errors: ``client_error``, or ``server_error`` when one was masked or unavailable.
    Listed first, so that it sees the errors as shaped."""

    def on_operation(self) -> Iterator[None]:
        info = requests.current()
        ctx = self.execution_context
        if info is not None:
            principal = getattr(ctx.context, "principal", None)
            if principal is not None:
                info.tenant = principal.tenant_slug
                info.user = principal.user_id
            info.operation = requests.operation_name(ctx.operation_name)
        yield
        if info is None:
            return
        info.operation = requests.operation_name(ctx.operation_name)
        info.root = root_field(ctx)
        with contextlib.suppress(RuntimeError):
            info.operation_type = ctx.operation_type.value
        errors = ctx.result.errors if ctx.result is not None else None
        if errors:
            codes = {(e.extensions or {}).get("code") for e in errors}
            info.outcome = "server_error" if codes & SERVER_CODES else "client_error"
        else:
            info.outcome = "ok"
