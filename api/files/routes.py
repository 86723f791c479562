"""GET /files/<token> (a signed, expiring link from File.url / thumbnailUrl) and GET /files/<id>[/thumbnail] (the
File's global id or database id, with a Bearer token, checked with tenants.files.access.readable). Every refusal
is a JSON error."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import authenticate, caller_of
from api.http_errors import domain_response, error_response
from api.ids import parse_global_id
from tenants import clock
from tenants.errors import DomainError, Forbidden
from tenants.files import links, service
from tenants.files.models import StoredFile
from tenants.scope import tenant_transaction
from tenants.settings import Settings

STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "INVALID_INPUT": 400}


def _missing() -> JSONResponse:
    return error_response(404, "NOT_FOUND", "文件不存在", "no such file", field="id")


def _refused(exc: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.code == "UNAUTHENTICATED" else None
    return domain_response(exc, STATUS.get(exc.code, 400), headers=headers)


def _served(f: StoredFile, data: bytes, thumbnail: bool, max_age: int) -> Response:
    return Response(
        data,
        media_type=f.thumbnail_type if thumbnail else f.content_type,
        headers={
            # Private: a link is a capability of whoever it was given to; shared caches must not keep it.
            "Cache-Control": f"private, max-age={max(max_age, 0)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": "inline",
        },
    )


def file_routes(settings: Settings) -> list[Route]:
    async def by_link(request: Request, token: str) -> Response:
        now = clock.now()
        try:
            link = links.verify(token, now=now)
            if request.headers.get("authorization"):  # a token of another tenant never opens this tenant's link
                principal = await authenticate(settings, request)
                if principal.tenant_id != link.tenant_id:
                    raise Forbidden("该文件不属于您的租户", "this file belongs to another tenant", field="token")
        except DomainError as exc:
            return _refused(exc)
        async with tenant_transaction(link.tenant_id):
            f = await service.linked(link.file_id)
            data = await service.read_bytes(f, thumbnail=link.thumbnail) if f is not None else None
        if f is None or data is None:
            return _missing()
        return _served(f, data, link.thumbnail, link.expires - int(now.timestamp()))

    async def by_id(request: Request, file_id: int, thumbnail: bool) -> Response:
        try:
            principal = await authenticate(settings, request)
            if principal.tenant_id is None:
                raise Forbidden("平台管理员不读取租户文件", "the platform path reads no tenant's files")
            async with tenant_transaction(principal.tenant_id):
                f = await service.get_readable(await caller_of(principal), file_id)
                data = await service.read_bytes(f, thumbnail=thumbnail) if f is not None else None
        except DomainError as exc:
            return _refused(exc)
        if f is None or data is None:
            return _missing()
        return _served(f, data, thumbnail, 0)

    async def endpoint(request: Request) -> Response:
        ref = request.path_params["ref"]
        thumbnail = request.url.path.endswith("/thumbnail")
        if ref.isascii() and ref.isdigit() and len(ref) <= 19 and 0 < int(ref) < 2**63:
            return await by_id(request, int(ref), thumbnail)
        named = parse_global_id(ref)  # a File's global id
        if named is not None and named[0] == "File":
            return await by_id(request, named[1], thumbnail)
        if thumbnail:  # a link names its variant itself
            return _missing()
        return await by_link(request, ref)

    return [
        Route("/files/{ref}", endpoint, methods=["GET"]),
        Route("/files/{ref}/thumbnail", endpoint, methods=["GET"]),
    ]
