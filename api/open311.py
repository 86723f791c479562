"""Open311 GeoReport v2 under ``/open311/v2/``: the ticket catalogue as services, tickets as service requests.

``jurisdiction_id`` is the tenant's slug. Services and discovery are public; requests need the same bearer token as
GraphQL (``Authorization: Bearer``, HTTP Basic with the token as password, or ``api_key`` as the spec allows), and
a request's reader reads only what ``readable`` lets them. Requests show public data only (tenants/tickets/public.py).
Errors are the spec's ``[{"code", "description"}]`` with the HTTP status as code. JSON, and XML in the spec's shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.etree import ElementTree

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from api.auth import Principal, authenticate, caller_of
from api.errors import outage
from api.guard import MAX_TEXT, string_problems
from api.ids import to_id
from api.pagination import decode_cursor, encode_cursor
from tenants import clock
from tenants.db import is_outage
from tenants.errors import DomainError, InvalidInput, NotFound, Problem, Unauthenticated
from tenants.paging import Window
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tenants.tenancy.service import get_tenant_by_slug
from tenants.tickets import catalog, intake, public
from tenants.tickets.models import Channel

log = logging.getLogger("civicgrid.open311")

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # this facade's last change, as discovery reports it
MEDIA = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
LOCATION_ATTRIBUTES = (  # (code, zh, en): the places a report can name, most specific first
    ("household_id", "住户编号", "household id"),
    ("building_id", "楼栋编号", "building id"),
    ("compound_id", "小区编号", "compound id"),
    ("community_id", "社区编号（只填地址时）", "community id (with an address only)"),
)
PHOTO_HINT = "请附照片（media_url）。"  # an item whose configuration sets photo_expected
# GraphQL / service field names in problems -> the Open311 parameter the client sent.
PARAMS = {
    "itemCode": "service_code", "description": "description", "address": "address_string", "latitude": "lat",
    "longitude": "long", "photos": "media_url", "contact": "phone", "householdId": "attribute[household_id]",
    "buildingId": "attribute[building_id]", "compoundId": "attribute[compound_id]",
    "communityId": "attribute[community_id]", "idempotencyKey": "Idempotency-Key",
}
STATUS_OF = {"INVALID_INPUT": 400, "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404}
MAX_RANGE = timedelta(days=90)  # the spec's widest start_date..end_date window, and the default one


class Refused(Exception):
    """An answer in the spec's error shape."""

    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.status, self.descriptions, self.headers = status, list(descriptions), headers


def _invalid(param: str, reason: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput.of([Problem(param, reason, zh, en)])


def _refusal(exc: DomainError) -> Refused:
    """A domain error as the spec's errors: one per problem, named by the Open311 parameter."""
    status = STATUS_OF.get(exc.code, 400)
    if exc.problems:
        return Refused(status, *(f"{PARAMS.get(p.field, p.field)}: {p.message_zh} / {p.message_en}"
                                 for p in exc.problems))
    return Refused(status, f"{exc.message_zh} / {exc.message_en}")


# --- formats ---------------------------------------------------------------------------------------------------

def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


def _element(name: str, value: Any) -> ElementTree.Element:
    el = ElementTree.Element(name)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        for v in value:
            el.append(_element(_singular(name), v))
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = str(value)
    return el


def render(fmt: str, root: str, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` as JSON, or as XML under ``root`` (a list's items named ``item`` by the spec: request, service...)."""
    if fmt == "xml":
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ElementTree.tostring(_element(root, data))
    else:
        body = json.dumps(data, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type=MEDIA[fmt], headers=headers)


def _error_response(fmt: str, refused: Refused) -> Response:
    errors = [{"code": refused.status, "description": d} for d in refused.descriptions]
    return render(fmt if fmt in MEDIA else "json", "errors", errors, refused.status, refused.headers)


def _format(request: Request) -> str:
    fmt = request.path_params.get("fmt", "json")
    if fmt not in MEDIA:
        raise Refused(404, f"格式须为 json 或 xml，而不是 {fmt[:20]} / format is json or xml")
    return fmt


Handler = Callable[[Request, "Params", str], Awaitable[Response]]


def endpoint(settings: Settings, handler: Handler):  # type: ignore[no-untyped-def]
    """A route: its format, its parameters (query, and a POST's body), errors in the spec's shape, never a 5xx for
    a client's mistake; an unreachable database is 503 with Retry-After, anything else a logged 500."""

    async def run(request: Request) -> Response:
        fmt = request.path_params.get("fmt", "json")
        try:
            fmt = _format(request)
            params = await Params.of(request, settings)
            response = await handler(request, params, fmt)
            outage.answered()
            return response
        except Refused as refused:
            return _error_response(fmt, refused)
        except DomainError as exc:
            return _error_response(fmt, _refusal(exc))
        except Exception as exc:
            if is_outage(exc):
                outage.failed(exc)
                return _error_response(fmt, Refused(503, "服务暂不可用，请稍后重试 / service unavailable, retry later",
                                                    headers={"Retry-After": "5"}))
            log.exception("open311 request failed")
            return _error_response(fmt, Refused(500, "服务器内部错误 / Unexpected error"))

    return run


# --- parameters and the caller ---------------------------------------------------------------------------------

class Params:
    """A request's parameters: the query string, and a POST's form or JSON body (which wins)."""

    def __init__(self, values: dict[str, str], attributes: dict[str, str]) -> None:
        self.values, self.attributes = values, attributes

    @classmethod
    async def of(cls, request: Request, settings: Settings) -> Params:
        pairs = list(request.query_params.multi_items())
        if request.method == "POST":
            pairs += await _body_pairs(request, settings.max_body_bytes)
        values: dict[str, str] = {}
        attributes: dict[str, str] = {}
        problems: list[Problem] = []
        for key, value in pairs:
            problems += string_problems("parameter", key, 200) or string_problems(key, value, MAX_TEXT)
            if key.startswith("attribute[") and key.endswith("]"):
                attributes[key[10:-1]] = value
            else:
                values[key] = value
        if problems:
            raise InvalidInput.of(problems[:10])
        return cls(values, attributes)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value is None or value.strip() else None

    def listed(self, name: str) -> list[str] | None:
        value = self.get(name)
        return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


async def _body_pairs(request: Request, limit: int) -> list[tuple[str, str]]:
    """A POST body (form-encoded per the spec, or a JSON object) as pairs; 413 past ``limit``, 415 otherwise."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("application/x-www-form-urlencoded", "application/json"):
        shown = media[:60] or "none"
        raise Refused(415, f"请求体须为 application/x-www-form-urlencoded 或 application/json（收到 {shown}） / "
                      "send application/x-www-form-urlencoded or application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"请求体超过 {limit} 字节 / the request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"请求体超过 {limit} 字节 / the request body exceeds {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        if media == "application/json":
            data = json.loads(raw) if raw.strip() else {}
            if not isinstance(data, dict):
                raise ValueError
            pairs = []
            for key, value in data.items():
                if key == "attribute" and isinstance(value, dict):
                    pairs += [(f"attribute[{k}]", _text(v)) for k, v in value.items()]
                else:
                    pairs.append((key, _text(value)))
            return pairs
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (ValueError, RecursionError, UnicodeDecodeError, TypeError) as exc:
        raise Refused(400, "请求体格式无效 / the request body is malformed") from exc


def _text(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError


class _Bearer:
    """Headers as ``authenticate`` reads them, for a token that came another way (Basic, ``api_key``)."""

    def __init__(self, token: str) -> None:
        self.headers = {"authorization": f"Bearer {token}"}


def _token(request: Request, params: Params) -> str | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() == "bearer":
            return rest.strip()
        if scheme.lower() == "basic":  # the token as the password (or as the user name, without a password)
            try:
                user, _, password = base64.b64decode(rest.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise Refused(401, "Authorization 格式无效 / malformed Authorization header") from None
            return password or user
        raise Refused(401, "Authorization 须为 Bearer 令牌 / Authorization must be a Bearer token")
    return params.get("api_key")


async def principal_of(settings: Settings, request: Request, params: Params) -> Principal | None:
    token = _token(request, params)
    if token is None:
        return None
    try:
        return await authenticate(settings, _Bearer(token))  # type: ignore[arg-type]
    except Unauthenticated as exc:
        raise Refused(401, f"{exc.message_zh} / {exc.message_en}",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


async def tenant_of(params: Params, principal: Principal | None) -> int:
    """The jurisdiction's tenant id: the token's own tenant (another slug is refused), or, without a token, the
    active tenant the slug names."""
    slug = params.get("jurisdiction_id")
    if slug is not None and string_problems("jurisdiction_id", slug, 63):
        raise Refused(404, "没有这个辖区 / no such jurisdiction_id")
    if principal is not None:
        if principal.tenant_id is None:
            raise Refused(403, "平台管理员不属于任何辖区 / a platform token has no jurisdiction")
        if slug is not None and slug != principal.tenant_slug:
            raise Refused(403, f"令牌不属于辖区 {slug} / the token is not for jurisdiction {slug}")
        return principal.tenant_id
    if slug is None:
        raise Refused(400, "缺少 jurisdiction_id（辖区，即租户标识） / jurisdiction_id (the tenant's slug) is required")
    tenant = await get_tenant_by_slug(slug)
    if tenant is None or not tenant.is_active:
        raise Refused(404, f"没有这个辖区：{slug} / no such jurisdiction_id: {slug}")
    return tenant.id


async def _signed_in(settings: Settings, request: Request, params: Params) -> Principal:
    principal = await principal_of(settings, request, params)
    if principal is None:
        raise Refused(401, "需要令牌（Authorization: Bearer 或 api_key） / a token is required "
                      "(Authorization: Bearer, or api_key)", headers={"WWW-Authenticate": "Bearer"})
    return principal


# --- services --------------------------------------------------------------------------------------------------

def _service(item: catalog.CatalogItem, category: catalog.CatalogCategory) -> dict[str, Any]:
    where = "小区（或其中的楼栋、住户）" if item.location == catalog.Location.COMPOUND else "社区内的任一位置或地址"
    return {
        "service_code": item.code,
        "service_name": item.title,
        "description": f"{category.title}：{item.title}。请指明{where}；{item.resolve_hours} 小时内办结。"
                       + (PHOTO_HINT if item.photo_expected else ""),
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys((category.title, item.title, category.code, item.code))),
        "group": category.title,
    }


def _definition(item: catalog.CatalogItem) -> dict[str, Any]:
    """The places a report can name, as attributes; none is required alone (any one of them, or an address)."""
    need = ("compound_id, building_id or household_id" if item.location == catalog.Location.COMPOUND
            else "any of them, or address_string (with community_id unless you live in the community)")
    attributes = [
        {
            "variable": True,
            "code": code,
            "datatype": "number",
            "required": False,
            "datatype_description": f"{zh}：civicgrid 的区划编号 / {en} from civicgrid's territory; give {need}",
            "order": order,
            "description": f"{zh} / {en}",
        }
        for order, (code, zh, en) in enumerate(LOCATION_ATTRIBUTES, start=1)
    ]
    if item.photo_expected:  # information only (variable false, as the spec allows): the photo is media_url
        attributes.append({
            "variable": False,
            "code": "photo_expected",
            "datatype": "string",
            "required": False,
            "datatype_description": None,
            "order": len(attributes) + 1,
            "description": f"{PHOTO_HINT} / a photo is expected (media_url); a report without one is still accepted",
        })
    return {"service_code": item.code, "attributes": attributes}


def discovery(settings: Settings) -> Handler:
    async def handle(request: Request, params: Params, fmt: str) -> Response:
        url = str(request.base_url).rstrip("/") + "/open311/v2"
        return render(fmt, "discovery", {
            "changeset": CHANGESET,
            "contact": "civicgrid: jurisdiction_id is the tenant's slug (租户标识)",
            "key_service": "Bearer token, as for /graphql (civicgrid token)",
            "endpoints": [{"specification": SPEC, "url": url, "changeset": CHANGESET, "type": "production",
                           "formats": ["application/json", "text/xml"]}],
        })

    return handle


async def _catalog(settings: Settings, request: Request, params: Params) -> catalog.Catalog:
    """Public: a token is not needed, but one that is given must be valid and of the jurisdiction."""
    tenant_id = await tenant_of(params, await principal_of(settings, request, params))
    async with tenant_transaction(tenant_id):
        return await catalog.public_catalog()


def services(settings: Settings) -> Handler:
    async def handle(request: Request, params: Params, fmt: str) -> Response:
        cat = await _catalog(settings, request, params)
        return render(fmt, "services", [_service(i, c) for c in cat.categories for i in c.items])

    return handle


def service_definition(settings: Settings) -> Handler:
    async def handle(request: Request, params: Params, fmt: str) -> Response:
        code = request.path_params["code"]
        item = (await _catalog(settings, request, params)).item(code)
        if item is None:
            raise Refused(404, f"没有这个服务：{code[:64]} / no such service_code: {code[:64]}")
        return render(fmt, "service_definition", _definition(item))

    return handle


# --- service requests ------------------------------------------------------------------------------------------

def _w3(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


def _request(t: public.PublicTicket) -> dict[str, Any]:
    """A ticket as the spec's service request: public data only (no address, place or reporter; the description
    only where the tenant publishes it, masked)."""
    return {
        "service_request_id": str(t.id),
        "status": t.status,
        "status_notes": t.status_notes,
        "service_name": t.item_title,
        "service_code": t.item_code,
        "description": t.description,  # None unless open311.publish_descriptions (then masked)
        "agency_responsible": t.agency,
        "service_notice": None,
        "requested_datetime": _w3(t.requested_at),
        "updated_datetime": _w3(t.updated_at),
        "expected_datetime": _w3(t.expected_at),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _instant(params: Params, name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or not 1900 <= at.year <= 2999:
        raise _invalid(name, "format", f"{name} 须为带时区的 W3C 时间，如 2026-12-01T00:00:00Z",
                       f"{name} must be a W3C date-time with its offset, e.g. 2026-12-01T00:00:00Z")
    return at


def _window(params: Params) -> tuple[datetime | None, datetime | None]:
    """start_date..end_date, at most 90 days; without either, the 90 days up to end_date (or now)."""
    start, end = _instant(params, "start_date"), _instant(params, "end_date")
    if start is not None and end is not None:
        if end < start:
            raise _invalid("end_date", "out_of_order", "end_date 早于 start_date", "end_date is before start_date")
        if end - start > MAX_RANGE:
            raise _invalid("end_date", "too_wide", "查询时间范围不能超过 90 天",
                           "the range may not span more than 90 days")
        return start, end
    if start is not None:
        return start, start + MAX_RANGE
    end = end or clock.now()
    return end - MAX_RANGE, end


def _ids(params: Params) -> list[int] | None:
    listed = params.listed("service_request_id")
    if listed is None:
        return None
    if len(listed) > 100:
        raise _invalid("service_request_id", "too_many", "一次最多查询 100 个编号", "at most 100 ids at once")
    return [to_id(v, "service_request_id", "Ticket") for v in listed]


def _page_size(settings: Settings, params: Params) -> int:
    raw = params.get("page_size")
    limit = settings.max_page_size
    if raw is None:
        return limit
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw[:6]) <= limit):
        raise _invalid("page_size", "out_of_range", f"page_size 须在 1 到 {limit} 之间",
                       f"page_size must be between 1 and {limit}")
    return int(raw)


def list_requests(settings: Settings) -> Handler:
    async def handle(request: Request, params: Params, fmt: str) -> Response:
        if request.method == "POST":
            return await create_request(settings, request, params, fmt)
        principal = await _signed_in(settings, request, params)
        tenant_id = await tenant_of(params, principal)
        ids = _ids(params)
        statuses = params.listed("status")
        if statuses is not None and not set(statuses) <= {public.OPEN, public.CLOSED}:
            raise _invalid("status", "unknown", "status 只能是 open 或 closed", "status is open or closed")
        start, end = (None, None) if ids is not None else _window(params)  # ids override every other filter
        size = _page_size(settings, params)
        cursor = params.get("after")
        after = decode_cursor(cursor, (datetime, int)) if cursor else None
        async with tenant_transaction(tenant_id):
            rows = await public.list_public(
                caller=await caller_of(principal), ids=ids,
                item_codes=None if ids is not None else params.listed("service_code"),
                statuses=None if ids is not None or statuses is None else set(statuses),
                start=start, end=end, window=Window(after=after, limit=size + 1),
            )
        headers = None
        if len(rows) > size:  # keyset paging: the next page is linked, as the JSON body is the spec's bare array
            rows = rows[:size]
            query = {k: v for k, v in request.query_params.items() if k not in ("after", "api_key")}
            query["after"] = encode_cursor((rows[-1].requested_at, rows[-1].id))
            headers = {"Link": f'<{request.url.path}?{urlencode(query)}>; rel="next"'}
        return render(fmt, "service_requests", [_request(t) for t in rows], headers=headers)

    return handle


def get_request(settings: Settings) -> Handler:
    async def handle(request: Request, params: Params, fmt: str) -> Response:
        principal = await _signed_in(settings, request, params)
        tenant_id = await tenant_of(params, principal)
        ticket_id = to_id(request.path_params["id"], "service_request_id", "Ticket")
        async with tenant_transaction(tenant_id):
            rows = await public.list_public(caller=await caller_of(principal), ids=[ticket_id], window=Window(limit=1))
        if not rows:
            raise NotFound(f"服务请求 {ticket_id} 不存在", f"service request {ticket_id} does not exist")
        return render(fmt, "service_requests", [_request(rows[0])])

    return handle


def _decimal(params: Params, name: str) -> Decimal | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _invalid(name, "format", f"{name} 须为数字", f"{name} must be a number")
    return number


def _node(params: Params, code: str) -> int | None:
    value = params.attributes.get(code)
    return None if value is None or not value.strip() else to_id(value.strip(), f"attribute[{code}]")


async def create_request(settings: Settings, request: Request, params: Params, fmt: str) -> Response:
    """POST requests: a ticket through intake, as the token's caller (form-encoded per the spec, or JSON)."""
    principal = await _signed_in(settings, request, params)
    tenant_id = await tenant_of(params, principal)
    code = params.get("service_code")
    if code is None:
        raise _invalid("service_code", "required", "缺少 service_code（诉求事项）", "service_code is required")
    media = params.get("media_url")
    latitude, longitude = _decimal(params, "lat"), _decimal(params, "long")
    places = {name: _node(params, name) for name, _, _ in LOCATION_ATTRIBUTES}
    async with tenant_transaction(tenant_id):
        ticket = await intake.report(
            access=await caller_of(principal),
            actor=principal.user_id,
            item_code=code,
            description=params.get("description") or "",
            channel=Channel.APP,
            photos=[media] if media else [],
            contact=params.get("phone") or "",
            household_id=places["household_id"],
            building_id=places["building_id"],
            compound_id=places["compound_id"],
            community_id=places["community_id"],
            address=params.get("address_string") or "",
            latitude=latitude,
            longitude=longitude,
            idempotency_key=request.headers.get("idempotency-key"),
        )
        notice = public.STATUS_NOTES[ticket.state]
    return render(fmt, "service_requests",
                  [{"service_request_id": str(ticket.id), "service_notice": notice, "account_id": None}], 201)


def routes(settings: Settings) -> Mount:
    """The mount under ``/open311/v2``."""
    def route(path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, endpoint(settings, handler), methods=list(methods))

    return Mount("/open311/v2", routes=[
        route("/discovery.{fmt}", discovery(settings)),
        route("/services.{fmt}", services(settings)),
        route("/services/{code}.{fmt}", service_definition(settings)),
        route("/requests.{fmt}", list_requests(settings), ("GET", "POST")),
        route("/requests/{id}.{fmt}", get_request(settings)),
    ])
