"""OpenTelemetry traces: a span per HTTP request (W3C ``traceparent`` honoured), GraphQL through strawberry's
extension, each database query through asyncpg's instrumentation, and a span per job in the worker.

Off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``CIVICGRID_OTLP_ENDPOINT``): then
spans go over OTLP/HTTP in batches. Off costs nothing: no provider, no extension, no instrumentation. No span
carries a request's variables or arguments (personal data)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Generator, Iterator
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Tracer
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from api.observability.requests import operation_name
from tenants.settings import Settings

_provider: TracerProvider | None = None
_instrumented = False


def _build(service: str, processor: SpanProcessor) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(processor)
    return provider


def setup(settings: Settings, *, service: str) -> TracerProvider | None:
    """This process's tracer provider: made once when an OTLP endpoint is configured (or ``install`` was called),
    with asyncpg instrumented; None when tracing is off."""
    global _provider
    if _provider is None and settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        _provider = _build(service, BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if _provider is not None:
        _instrument_asyncpg(_provider)
    return _provider


def install(processor: SpanProcessor, *, service: str = "civicgrid-api") -> TracerProvider:
    """Tracing on with ``processor`` (tests: a SimpleSpanProcessor over an in-memory exporter)."""
    global _provider
    _provider = _build(service, processor)
    return _provider


def uninstall() -> None:
    """Tracing off again for apps and workers set up from now on; asyncpg no longer instrumented."""
    global _provider, _instrumented
    _provider = None
    if _instrumented:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().uninstrument()
        _instrumented = False


def _instrument_asyncpg(provider: TracerProvider) -> None:
    global _instrumented
    if not _instrumented:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument(tracer_provider=provider)  # statements only, never their parameters
        _instrumented = True


def tracer(name: str) -> Tracer | None:
    return _provider.get_tracer(name) if _provider is not None else None


@contextlib.contextmanager
def job_span(kind: str, tenant_id: int, period_key: str, tries: int) -> Iterator[Any]:
    """A span around one job run (nothing when tracing is off)."""
    t = tracer("civicgrid.jobs")
    if t is None:
        yield None
        return
    attributes = {"civicgrid.job.kind": kind, "civicgrid.tenant.id": tenant_id,
                  "civicgrid.job.period": period_key, "civicgrid.job.try": tries}
    with t.start_as_current_span(f"job {kind}", kind=SpanKind.CONSUMER, attributes=attributes) as span:
        yield span


class GraphQLTracing(OpenTelemetryExtension):
    """Strawberry's extension without what may be personal: no resolver arguments, no query text (it may inline
    values); the operation's name and type instead."""

    def __init__(self, *, execution_context: Any = None, tracer_provider: Any = None) -> None:
        super().__init__(execution_context=execution_context, arg_filter=lambda args, info: {},
                         tracer_provider=tracer_provider)

    def on_operation(self) -> Generator[None, None, None]:
        name = operation_name(self.execution_context.operation_name)
        span = self._tracer.start_span(f"GraphQL {name}" if name else "GraphQL", kind=SpanKind.INTERNAL)
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        yield
        name = operation_name(self.execution_context.operation_name)
        if name:
            span.update_name(f"GraphQL {name}")
            span.set_attribute("graphql.operation.name", name)
        with contextlib.suppress(RuntimeError):  # no document: it did not parse
            span.set_attribute("graphql.operation.type", self.execution_context.operation_type.value)
        span.end()


def graphql_extension() -> Any:
    """The strawberry extension for this process's provider, or None when tracing is off."""
    if _provider is None:
        return None
    return functools.partial(GraphQLTracing, tracer_provider=_provider)
