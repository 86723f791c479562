"""HTTP errors outside GraphQL (unknown route, method, content type, body, server faults) in the GraphQL shape:
``{"errors": [{"message", "extensions": {"code", "field", "messageZh", "messageEn", ...}}]}``, never plain text."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import MASKED_EN, MASKED_ZH
from api.observability.requests import current_id
from tenants.errors import DomainError

log = logging.getLogger("civicgrid.api")


def error_body(code: str, zh: str, en: str, *, field: str | None = None, **extra: Any) -> dict[str, Any]:
    ext = {"code": code, "field": field, "messageZh": zh, "messageEn": en, **extra}
    if (request_id := current_id()) is not None:
        ext["requestId"] = request_id
    return {"errors": [{"message": f"{zh} / {en}", "extensions": ext}]}


def error_response(status: int, code: str, zh: str, en: str, *, field: str | None = None,
                   headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(code, zh, en, field=field, **extra), status_code=status, headers=headers)


def domain_response(exc: DomainError, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    ext = exc.extensions()
    if (request_id := current_id()) is not None:
        ext = {**ext, "requestId": request_id}
    return JSONResponse({"errors": [{"message": exc.message, "extensions": ext}]}, status_code=status,
                        headers=headers)


def not_found(path: str) -> JSONResponse:
    return error_response(404, "NOT_FOUND", f"没有这个地址：{path[:200]}", f"no such path: {path[:200]}", field="path")


def method_not_allowed(method: str, allowed: str) -> JSONResponse:
    return error_response(
        405, "METHOD_NOT_ALLOWED", f"此地址不接受 {method} 请求（可用：{allowed}）",
        f"{method} is not allowed here (allowed: {allowed})", field="method", headers={"Allow": allowed},
    )


def unsupported_media_type(content_type: str, accepted: str) -> JSONResponse:
    shown = content_type[:100] or "none"
    return error_response(
        415, "UNSUPPORTED_MEDIA_TYPE", f"不支持的请求体类型 {shown}，请使用 {accepted}",
        f"unsupported content type {shown}: send {accepted}", field="contentType",
    )


def internal_error() -> JSONResponse:
    return error_response(500, "INTERNAL_ERROR", MASKED_ZH, MASKED_EN)


def busy() -> bytes:
    """The body of uvicorn's 503 when the connection limit is reached (``api/server.py``)."""
    return json.dumps(error_body("UNAVAILABLE", "服务器繁忙，请稍后重试", "the server is busy: retry later",
                                 retryable=True), ensure_ascii=False).encode()


def bad_http() -> bytes:
    """The body of uvicorn's 400 for a request that is not valid HTTP (``api/server.py``)."""
    return json.dumps(error_body("BAD_REQUEST", "无效的 HTTP 请求", "invalid HTTP request"),
                      ensure_ascii=False).encode()


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's HTTPException (unknown route, method not allowed, static files) as a JSON error."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return not_found(request.url.path)
    if exc.status_code == 405:
        return method_not_allowed(request.method, (exc.headers or {}).get("Allow", "GET"))
    return error_response(exc.status_code, "BAD_REQUEST", "无效的请求", str(exc.detail)[:200],
                          headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    """An exception nothing else caught: masked as INTERNAL_ERROR (Starlette logs it and re-raises it after)."""
    return internal_error()


EXCEPTION_HANDLERS = {HTTPException: http_exception, Exception: server_error}
