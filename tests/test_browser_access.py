"""Issue 14, browser access: CORS from CIVICGRID_CORS_ORIGINS, GraphiQL from civicgrid's own pinned assets, and every
error outside GraphQL a JSON body with errors[].extensions.code (the browser itself: test_graphiql_browser.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pydantic
import pytest
from httpx import ASGITransport, AsyncClient
from starlette.applications import Starlette
from starlette.routing import Route

from api.app import create_app
from api.http_errors import EXCEPTION_HANDLERS
from tenants.settings import Settings
from tests.conftest import ROOT
from tests.uvicorn_kit import serving

APP_ORIGIN = "https://app.xiahuayuan.example.cn"
QUERY = {"query": "{ me { roles } }"}


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


@pytest.fixture
async def browser_client(settings: Settings, app: Any) -> AsyncIterator[Any]:
    """A client of an app built with other settings (on the session's database; no lifespan needed)."""
    clients: list[AsyncClient] = []

    def make(**update: Any) -> AsyncClient:
        c = AsyncClient(transport=ASGITransport(app=create_app(settings.model_copy(update=update)),
                                                raise_app_exceptions=False), base_url="http://test")
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


def error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    ext = resp.json()["errors"][0]["extensions"]
    assert ext["code"] == code and ext["messageZh"] and ext["messageEn"], ext
    return ext


# --- CORS ---------------------------------------------------------------------------------------------------------

async def test_a_preflight_from_an_allowed_origin_passes_with_the_right_headers(browser_client):
    c = browser_client(cors_origins=f"{APP_ORIGIN},http://10.1.2.3:8080")
    resp = await c.options("/graphql", headers=preflight(APP_ORIGIN))
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == APP_ORIGIN  # the origin itself, never `*`
    assert {"GET", "POST"} <= set(resp.headers["access-control-allow-methods"].split(", "))
    assert {"authorization", "content-type"} <= {h.lower() for h in
                                                 resp.headers["access-control-allow-headers"].split(", ")}
    assert resp.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in resp.headers  # bearer tokens, no cookies
    assert "Origin" in resp.headers["vary"]
    resp = await c.options("/graphql", headers=preflight("http://10.1.2.3:8080"))
    assert resp.headers["access-control-allow-origin"] == "http://10.1.2.3:8080"


@pytest.mark.parametrize("origin, method, headers, refused", [
    ("https://evil.example.com", "POST", "authorization", ["origin"]),
    (APP_ORIGIN + ".evil.com", "POST", "authorization", ["origin"]),  # a prefix is not the origin
    ("http://app.xiahuayuan.example.cn", "POST", "authorization", ["origin"]),  # nor another scheme
    (APP_ORIGIN, "DELETE", "authorization", ["method"]),
    (APP_ORIGIN, "POST", "x-tenant-override", ["headers"]),
])
async def test_a_preflight_from_another_origin_is_refused_without_allow_origin(
    browser_client, origin, method, headers, refused
):
    c = browser_client(cors_origins=APP_ORIGIN)
    resp = await c.options("/graphql", headers=preflight(origin, method, headers))
    ext = error(resp, 400, "CORS_REFUSED")
    assert ext["refused"] == refused
    if refused == ["origin"]:
        assert "access-control-allow-origin" not in resp.headers


async def test_a_request_from_an_allowed_origin_carries_allow_origin(browser_client, three_tenants, token):
    c = browser_client(cors_origins=APP_ORIGIN)
    auth = {"Authorization": f"Bearer {token('xiahuayuan')}"}
    resp = await c.post("/graphql", json=QUERY, headers={**auth, "Origin": APP_ORIGIN})
    assert resp.status_code == 200 and [r.lower() for r in resp.json()["data"]["me"]["roles"]] == ["tenant_admin"]
    assert resp.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "Retry-After" in resp.headers["access-control-expose-headers"]
    # an error is readable by the page too: the 401 carries the header
    resp = await c.post("/graphql", json=QUERY, headers={"Origin": APP_ORIGIN})
    assert resp.status_code == 401 and resp.headers["access-control-allow-origin"] == APP_ORIGIN
    resp = await c.post("/graphql", json=QUERY, headers={**auth, "Origin": "https://evil.example.com"})
    assert resp.status_code == 200 and "access-control-allow-origin" not in resp.headers


async def test_production_allows_no_origin_by_default_and_development_allows_localhost(browser_client):
    prod = browser_client(env="production")
    for origin in ("http://localhost:5173", APP_ORIGIN):
        resp = await prod.options("/graphql", headers=preflight(origin))
        error(resp, 400, "CORS_REFUSED")
        assert "access-control-allow-origin" not in resp.headers
    dev = browser_client(env="development")
    for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"):
        resp = await dev.options("/graphql", headers=preflight(origin))
        assert resp.headers.get("access-control-allow-origin") == origin, origin
    error(await dev.options("/graphql", headers=preflight("http://localhost.evil.com")), 400, "CORS_REFUSED")
    # an explicit (even empty) list replaces the development default
    only = browser_client(env="development", cors_origins="")
    error(await only.options("/graphql", headers=preflight("http://localhost:5173")), 400, "CORS_REFUSED")


async def test_any_origin_is_star_without_credentials(browser_client):
    c = browser_client(cors_origins="*")
    resp = await c.options("/graphql", headers=preflight("https://anyone.example"))
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in resp.headers


@pytest.mark.parametrize("value", ["https://app.example.cn/", "app.example.cn", "*,https://a.cn", "null",
                                   "https://a.cn/path", "ftp://a.cn"])
def test_origins_that_are_not_origins_are_refused_at_start(value, monkeypatch):
    monkeypatch.setenv("CIVICGRID_CORS_ORIGINS", value)
    with pytest.raises(pydantic.ValidationError, match="CIVICGRID_CORS_ORIGINS"):
        Settings()


def test_origins_are_read_comma_separated(monkeypatch):
    monkeypatch.setenv("CIVICGRID_CORS_ORIGINS", f" {APP_ORIGIN} , http://10.1.2.3:8080")
    assert Settings().cors_origin_list == (APP_ORIGIN, "http://10.1.2.3:8080")


# --- GraphiQL's own assets ----------------------------------------------------------------------------------------

async def test_graphiql_loads_nothing_from_outside(client):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert "unpkg" not in html and "cdn" not in html.lower().replace("no cdn", "")
    assert "https://" not in html and "http://" not in html
    import re

    assets = re.findall(r'(?:src|href)="(/graphiql/static/[^"]+)" integrity="(sha384-[^"]+)"', html)
    assert len(assets) == 6, assets
    for url, _ in assets:
        resp = await client.get(url)
        assert resp.status_code == 200 and len(resp.content) > 500, url
    assert (await client.get("/graphiql/static/graphiql.min.js")).headers["content-type"].startswith(
        ("application/javascript", "text/javascript"))


def test_the_vendored_assets_match_their_pins():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "scripts/update_graphiql.py", "--check"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    pins = json.loads((ROOT / "api/static/graphiql/pins.json").read_text())
    assert {p["name"]: p["version"] for p in pins["packages"]} == {
        "react": "18.2.0", "react-dom": "18.2.0", "graphiql": "3.8.3", "@graphiql/plugin-explorer": "1.0.2"}


async def test_assets_are_not_served_without_graphiql(browser_client):
    prod = browser_client(env="production")
    error(await prod.get("/graphiql/static/graphiql.min.js"), 404, "NOT_FOUND")


# --- JSON errors outside GraphQL ----------------------------------------------------------------------------------

async def test_get_without_the_ide_is_a_json_405(client, browser_client, three_tenants, token):
    auth = {"Authorization": f"Bearer {token('linshu')}"}
    resp = await client.get("/graphql", params={"query": "{ me { userId } }"}, headers=auth)
    ext = error(resp, 405, "METHOD_NOT_ALLOWED")
    assert resp.headers["allow"] == "POST" and ext["field"] == "method"
    for accept in ("application/json", "*/*"):  # curl's */* gets JSON, not the IDE
        error(await client.get("/graphql", headers={**auth, "Accept": accept}), 405, "METHOD_NOT_ALLOWED")
    page = await client.get("/graphql", params={"query": "{ me { roles } }"}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql.min.js" in page.text  # GraphiQL's shared ?query= link
    prod = browser_client(env="production")  # no IDE at all: a browser's GET
    error(await prod.get("/graphql", headers={**auth, "Accept": "text/html"}), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/nope", 404, "NOT_FOUND"),
    ("POST", "/graphql/extra", 404, "NOT_FOUND"),
    ("GET", "/graphiql/static/nope.js", 404, "NOT_FOUND"),
    ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/healthz", 405, "METHOD_NOT_ALLOWED"),
    ("OPTIONS", "/graphql", 405, "METHOD_NOT_ALLOWED"),  # not a preflight: no Origin
    ("POST", "/graphiql/static/graphiql.min.js", 405, "METHOD_NOT_ALLOWED"),
])
async def test_unknown_routes_and_methods_are_json(client, method, path, status, code):
    resp = await client.request(method, path)
    ext = error(resp, status, code)
    if status == 405:
        assert "allow" in resp.headers and ext["field"] == "method"


# multipart/form-data is accepted since uploads (tests/test_files.py checks its malformed bodies).
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_a_wrong_content_type_is_a_json_415(client, three_tenants, token, content_type):
    headers = {"Authorization": f"Bearer {token('linshu')}"}
    if content_type:
        headers["Content-Type"] = content_type
    resp = await client.post("/graphql", content=b"{ me { userId } }", headers=headers)
    ext = error(resp, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert ext["field"] == "contentType"
    ok = await client.post("/graphql", content=json.dumps(QUERY).encode(),
                           headers={**headers, "Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200 and "errors" not in ok.json()


@pytest.mark.parametrize("body, status, code, field", [
    (b'[{"query": "{ me { roles } }"}]', 400, "INVALID_INPUT", "body"),  # a batch
    (b"{}", 400, "INVALID_INPUT", "query"),  # no query
    (b'{"query": "query A { me { roles } }", "operationName": "B"}', 400, "INVALID_INPUT", "body"),
    (b'{"query": "' + b"x" * (1024 * 1024) + b'"}', 413, "PAYLOAD_TOO_LARGE", "body"),
])
async def test_bodies_strawberry_refuses_are_json(client, three_tenants, token, body, status, code, field):
    headers = {"Authorization": f"Bearer {token('linshu')}", "Content-Type": "application/json"}
    ext = error(await client.post("/graphql", content=body, headers=headers), status, code)
    assert ext["field"] == field


async def test_an_unexpected_exception_is_a_masked_json_500():
    async def boom(_: Any) -> Any:
        raise RuntimeError("secret detail")

    app = Starlette(routes=[Route("/boom", boom)], exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as c:
        resp = await c.get("/boom")
    error(resp, 500, "INTERNAL_ERROR")
    assert "secret" not in resp.text


@pytest.fixture
async def real_server(app, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(settings, "max_connections", 2)
    async with serving(app, settings) as port:
        yield port


async def exchange(port: int, data: bytes) -> tuple[bytes, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return head, json.loads(body)


async def test_uvicorns_own_answers_are_json(real_server):
    head, body = await exchange(real_server, b"NOT HTTP AT ALL\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # beyond the connection limit (2 here): the third connection's request is answered 503 at once
    held = [await asyncio.open_connection("127.0.0.1", real_server) for _ in range(2)]
    await asyncio.sleep(0.1)
    head, body = await exchange(real_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), head
    ext = body["errors"][0]["extensions"]
    assert ext["code"] == "UNAVAILABLE" and ext["retryable"] is True
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.2)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{real_server}") as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
