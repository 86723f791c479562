"""The Starlette application: /graphql behind bearer authentication, /healthz and /readyz, CORS, GraphiQL's own
assets; every error a JSON body in the GraphQL shape (api/http_errors.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import HTTPException as StrawberryHTTPException
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise

from api.auth import authenticate
from api.context import Context, Loaders
from api.cors import cors
from api.dual.report_exports import dual_members_export, dual_units_export
from api.errors import outage, unavailable_extensions
from api.exports import ratings_export
from api.files.routes import file_routes
from api.graphiql import GraphiQLAssets
from api.http_errors import (
    EXCEPTION_HANDLERS,
    domain_response,
    error_response,
    method_not_allowed,
    not_found,
    unsupported_media_type,
)
from api.observability import logs, tracing
from api.observability.metrics import OperationNames, metrics_route
from api.observability.middleware import Observe
from api.observability.requests import current_id
from api.oidc import ProviderUnavailable
from api.open311 import routes as open311_routes
from api.points.exports import grid_points_export, person_points_export
from api.points.pay_exports import pay_export
from api.points.statement_exports import partner_statements_export
from api.schema import build_schema
from api.subsidies.exports import settlements_export
from tenants import queue
from tenants.config import watch as config_watch
from tenants.db import is_outage, refuse_privileged_role, tortoise_config
from tenants.errors import InvalidInput, Problem, Unauthenticated
from tenants.settings import Settings, get_settings

PRINCIPAL_KEY = "civicgrid.principal"
log = logging.getLogger("civicgrid.api")


def _bad_body(reason: str, zh: str, en: str, field: str = "body") -> JSONResponse:
    return domain_response(InvalidInput.of([Problem(field, reason, zh, en)]), 400)


def refuse_body(content_type: str, body: bytes) -> JSONResponse | None:
    """A typed 400 for a JSON body that is not one GraphQL request object (arrays, scalars, deep nesting, bad text),
    before strawberry reads it; None when the body is one."""
    if "json" not in content_type.lower():
        return None  # not JSON: the caller answered 415 already, or it is a multipart upload
    try:
        data = loads(body)
    except RecursionError:
        return _bad_body("too_deep", "请求体嵌套过深", "the request body is nested too deeply")
    except ValueError:  # not JSON, or not UTF-8
        return _bad_body("format", "请求体不是有效的 JSON", "the request body is not valid JSON")
    if isinstance(data, list):
        return _bad_body("batch", "不支持批量请求，请逐个发送", "batched requests are not supported")
    if not isinstance(data, dict):
        return _bad_body("format", "请求体须为 JSON 对象", "the request body must be a JSON object")
    for key, kind, zh in (("query", str, "字符串"), ("operationName", str, "字符串"),
                          ("variables", dict, "对象"), ("extensions", dict, "对象")):
        if data.get(key) is not None and not isinstance(data[key], kind):
            en = "a string" if kind is str else "an object"
            return _bad_body("format", f"请求体的 {key} 须为{zh}", f"the request's {key} must be {en}")
    return None


def loads(body: bytes | str) -> Any:
    """JSON through orjson; what orjson refuses (a lone surrogate's escape, an integer beyond 64 bits, nesting
    past its limit) goes through ``json`` so that it is judged (and refused) exactly as before."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def dumps(data: Any) -> bytes:
    """A response body through orjson (UTF-8, not \\u-escaped); ``json`` for what orjson refuses (big ints)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


IMPORT_MUTATIONS = frozenset({"importTerritory", "importTickets", "__typename"})


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected before it finished sending its body: nothing to answer, nothing to log as an error."""


def too_large(limit: int) -> JSONResponse:
    """HTTP 413 in the usual errors[].extensions shape (PAYLOAD_TOO_LARGE, field body, the limit in bytes)."""
    zh, en = f"请求体超过 {limit} 字节", f"the request body exceeds {limit} bytes"
    return error_response(413, "PAYLOAD_TOO_LARGE", zh, en, field="body", headers={"Connection": "close"},
                          limitBytes=limit)


def too_slow(seconds: float) -> JSONResponse:
    """HTTP 408: the body did not arrive within the body timeout (REQUEST_TIMEOUT)."""
    return error_response(408, "REQUEST_TIMEOUT", f"请求体未在 {seconds:g} 秒内发送完毕",
                          f"the request body was not sent within {seconds:g} seconds", field="body",
                          headers={"Connection": "close"})


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(receive: Receive, limit: int, import_limit: int | None = None) -> bytes:
    """The request body, read chunk by chunk; BodyTooLarge as soon as it passes ``limit`` (never buffered whole).

    With ``import_limit``, a body may grow past ``limit`` up to ``import_limit`` only while what has arrived so far
    opens an import mutation (its query comes before its variables): anything else is refused at ``limit`` bytes,
    not after 20 MiB were buffered."""
    chunks: list[bytes] = []
    size = 0
    ceiling = limit if import_limit is None else max(limit, import_limit)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if size <= limit < size + len(chunk) and ceiling > limit and not opens_an_import(b"".join(chunks) + chunk):
            raise BodyTooLarge
        size += len(chunk)
        if size > ceiling:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


_QUERY_PREFIX = re.compile(rb'"query"\s*:\s*"((?:[^"\\]|\\.){0,4096})')
_IMPORT_OPENING = re.compile(
    r'^(?:\s|,|#[^\n]*\n)*mutation\b[^{]*\{(?:\s|,|#[^\n]*\n)*(?:\w+\s*:\s*)?(?:'
    + "|".join(sorted(IMPORT_MUTATIONS - {"__typename"})) + r')\b'
)


def opens_an_import(prefix: bytes) -> bool:
    """Whether the first bytes of a body are a JSON object whose ``query`` opens an import mutation (a cheap early
    test; ``only_imports`` checks the whole document once it has arrived)."""
    match = _QUERY_PREFIX.search(prefix)
    if match is None:
        return False
    text = match.group(1)
    while text:
        try:
            query = json.loads(b'"' + text + b'"')
            break
        except ValueError:  # the prefix ended inside an escape: drop its last bytes
            text = text[:-1]
    else:
        return False
    return _IMPORT_OPENING.match(query) is not None


def only_imports(body: bytes) -> bool:
    """Whether the body is one GraphQL request whose operations are mutations selecting only imports."""
    from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

    try:
        data = json.loads(body)
        document = parse(data["query"])
    except (ValueError, RecursionError, TypeError, KeyError, GraphQLError):
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        op.operation == OperationType.MUTATION
        and all(getattr(sel, "name", None) is not None and sel.name.value in IMPORT_MUTATIONS  # type: ignore[attr-defined]
                for sel in op.selection_set.selections)
        for op in operations
    )


def is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"multipart/form-data"
    return False


def replay(body: bytes) -> Receive:
    """A receive channel that hands the already read body to strawberry."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def refusal(exc: StrawberryHTTPException, request: Request) -> JSONResponse:
    """Strawberry's plain-text refusals as JSON errors."""
    if exc.status_code == 405:
        return method_not_allowed(request.method, "POST")
    if exc.status_code == 404:
        return not_found(request.url.path)
    if exc.reason == "No GraphQL query found in the request":
        return _bad_body("required", "请求中没有 GraphQL 查询（query）", "the request has no GraphQL query", "query")
    return _bad_body("format", "无效的 GraphQL 请求", exc.reason[:200])


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view with authentication in front: no valid token, no GraphQL (HTTP 401)."""

    def __init__(self, settings: Settings, ide: GraphiQLAssets | None = None) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if ide is not None else None,
            allow_queries_via_get=False,
            # uploadFile: the GraphQL multipart request spec (README, "Photos and files").
            multipart_uploads_enabled=True,
        )
        self.settings = settings
        self.ide = ide

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return loads(data)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """GraphiQL from civicgrid's own assets (api/static/graphiql/), never a CDN."""
        assert self.ide is not None
        return self.ide.page()

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A browser's page load (text/html), also with GraphiQL's ``?query=``: GET runs no query here anyway.
        Other GETs (``*/*`` of curl) get JSON."""
        return request.method == "GET" and "text/html" in request.headers.get("accept", "")

    def accepts(self, content_type: str) -> bool:
        media = content_type.split(";", 1)[0].strip().lower()
        return media == "application/json" or (self.multipart_uploads_enabled and media == "multipart/form-data")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Oversized bodies are refused before anything is read (a declared length) or as soon as the stream
            # passes the import limit; a body above the GraphQL limit is kept only when it is an import.
            limit, import_limit = self.settings.max_body_bytes, max(self.settings.max_import_body_bytes,
                                                                     self.settings.max_body_bytes)
            if is_multipart(scope):  # an upload: one file of max_upload_bytes and the operation beside it
                limit = import_limit = self.settings.max_body_bytes + self.settings.max_upload_bytes
            if (length := declared_length(scope)) is not None and length > import_limit:
                await too_large(limit)(scope, receive, send)
                return
            request = Request(scope, receive)
            if self.graphql_ide and self.should_render_graphql_ide(request):  # type: ignore[arg-type]
                await (await self.render_graphql_ide(request))(scope, receive, send)
                return
            try:
                scope[PRINCIPAL_KEY] = await authenticate(self.settings, request)
            except Unauthenticated as exc:
                response = domain_response(exc, 401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
                await response(scope, receive, send)
                return
            except Exception as exc:  # the tenant lookup could not reach the database
                if is_outage(exc):
                    outage.failed(exc)  # logged once per outage, not per request
                elif not isinstance(exc, ProviderUnavailable):  # logged by api/oidc.py, without a traceback
                    log.exception("authentication failed unexpectedly")
                ext = unavailable_extensions(provider=isinstance(exc, ProviderUnavailable))
                if (request_id := current_id()) is not None:
                    ext["requestId"] = request_id
                body = {"errors": [{"message": f"{ext['messageZh']} / {ext['messageEn']}", "extensions": ext}]}
                await JSONResponse(body, status_code=503, headers={"Retry-After": "5"})(scope, receive, send)
                return
            if request.method != "POST":  # GET queries are off; GET serves only the IDE
                await method_not_allowed(request.method, "POST")(scope, receive, send)
                return
            if not self.accepts(content_type := request.headers.get("content-type", "")):
                accepted = "application/json" + (" or multipart/form-data" if self.multipart_uploads_enabled else "")
                await unsupported_media_type(content_type, accepted)(scope, receive, send)
                return
            try:
                raw = await asyncio.wait_for(read_body(receive, limit, import_limit),
                                             self.settings.body_timeout_seconds)
            except TimeoutError:
                await too_slow(self.settings.body_timeout_seconds)(scope, receive, send)
                return
            except BodyTooLarge:
                await too_large(limit)(scope, receive, send)
                return
            except ClientGone:
                log.info("client disconnected before sending its whole body")
                return
            if len(raw) > limit and not only_imports(raw):
                await too_large(limit)(scope, receive, send)
                return
            if (bad := refuse_body(content_type, raw)) is not None:
                await bad(scope, receive, send)
                return
            receive = replay(raw)
            request = Request(scope, receive)
            try:
                response = await self.run(request)
            except StrawberryHTTPException as exc:
                response = refusal(exc, request)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        principal = request.scope[PRINCIPAL_KEY]
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            principal=principal,
            loaders=Loaders(principal=principal),
        )


async def _check_database() -> str | None:
    try:
        conn = Tortoise.get_connection("default")
        await asyncio.wait_for(conn.execute_query("SELECT 1"), timeout=2)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]


async def _check_redis(url: str) -> str | None:
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await asyncio.wait_for(client.ping(), timeout=3)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        await client.aclose()


class App(Starlette):
    """Starlette with the observing layer (api/observability/) outside its error handling: a 500 carries the
    request id, is counted and logged like any other answer."""

    observe: dict[str, Any]

    def build_middleware_stack(self) -> ASGIApp:
        return Observe(super().build_middleware_stack(), **self.observe)
async def provider_unavailable(request: Request, exc: Exception) -> Response:
    """The identity provider's keys could not be had (the exports' and files' routes): 503, retryable."""
    ext = unavailable_extensions(provider=True)
    body = {"errors": [{"message": f"{ext['messageZh']} / {ext['messageEn']}", "extensions": ext}]}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    redis_url = settings.require_redis_url()
    provider = tracing.setup(settings, service="civicgrid-api")

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        db, rd = await asyncio.gather(_check_database(), _check_redis(redis_url))
        checks = {"database": db or "ok", "redis": rd or "ok"}
        failing = [name for name, err in (("database", db), ("redis", rd)) if err]
        if failing:
            return JSONResponse({"status": "unavailable", "failing": failing, "checks": checks}, status_code=503)
        return JSONResponse({"status": "ready", "checks": checks})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.hs256_enabled:  # fail at start, not on the first request, when the secret is unusable
            settings.signing_secret()
        logs.configure(settings)  # here: after uvicorn configured its own loggers
        await refuse_privileged_role(settings.require_database_url())
        config = tortoise_config(settings.require_database_url(), pool_size=settings.db_pool_size)
        async with RegisterTortoise(app, config=config):
            await config_watch.start(settings.require_database_url())  # configuration remembered while heard
            # What start-up built (schema, models, modules) lives as long as the process: out of the collector's
            # sight, so that a full collection no longer walks it (it cost a 100-statement page 60 ms of 180).
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                await config_watch.stop()
                await queue.close_pool()

    ide = GraphiQLAssets() if settings.graphiql_enabled else None
    graphql = GraphQLEndpoint(settings, ide)
    app = App(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *([ide.route()] if ide else []),
            *file_routes(settings),
            Route("/exports/ratings/{period}.{fmt}", ratings_export(settings), methods=["GET"]),
            Route("/exports/settlements/{period}.{fmt}", settlements_export(settings), methods=["GET"]),
            Route("/exports/points/person/{id}.{fmt}", person_points_export(settings), methods=["GET"]),
            Route("/exports/points/grid/{id}.{fmt}", grid_points_export(settings), methods=["GET"]),
            Route("/exports/pay/{period}.{fmt}", pay_export(settings), methods=["GET"]),  # issue 17 part D
            Route("/exports/partner-statements/{period}.{fmt}", partner_statements_export(settings), methods=["GET"]),
            Route("/exports/dual/members/{period}.{fmt}", dual_members_export(settings), methods=["GET"]),  # 18 E
            Route("/exports/dual/units/{period}.{fmt}", dual_units_export(settings), methods=["GET"]),  # 18 E
            open311_routes(settings),  # Open311 GeoReport v2 (api/open311.py)
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            metrics_route(settings),
        ],
        lifespan=lifespan,
        middleware=[cors(settings)],
        exception_handlers={**EXCEPTION_HANDLERS, ProviderUnavailable: provider_unavailable},
    )
    app.observe = {"operations": OperationNames(settings.metrics_max_operations),
                   "tracer": provider.get_tracer("civicgrid.api") if provider else None}
    return app
