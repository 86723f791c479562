"""Issue 12, point 6: oversized request bodies are refused (HTTP 413, JSON) before they are read whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from tenants.settings import Settings

MIB = 1024 * 1024


def too_large(resp: Any, limit: int) -> None:
    assert resp.status_code == 413, resp.text[:300]
    ext = resp.json()["errors"][0]["extensions"]
    assert ext["code"] == "PAYLOAD_TOO_LARGE" and ext["field"] == "body" and ext["limitBytes"] == limit
    assert ext["messageZh"] and ext["messageEn"]


async def post(client: AsyncClient, tok: str, content: bytes) -> Any:
    headers = {"Authorization": f"Bearer {tok}", "content-type": "application/json"}
    return await client.post("/graphql", content=content, headers=headers)


async def test_a_graphql_body_over_one_mib_is_413(three_tenants, client, token):
    a = three_tenants[0]
    # {"query": "{ me { userId } }" + padding}: the JSON around the padding is 35 bytes.
    small = json.dumps({"query": "{ me { userId } }" + " " * (MIB - 100)}).encode()
    assert len(small) < MIB
    ok = await post(client, token(a.slug), small)
    assert ok.status_code == 200 and "errors" not in ok.json(), ok.text[:300]
    big = json.dumps({"query": "{ me { userId } }" + " " * MIB}).encode()
    too_large(await post(client, token(a.slug), big), MIB)


@pytest.fixture
def small_app(app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The API with a 2,000-byte GraphQL limit and a 50,000-byte import limit (read per request)."""
    monkeypatch.setattr(settings, "max_body_bytes", 2_000)
    monkeypatch.setattr(settings, "max_import_body_bytes", 50_000)
    return app


async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(three_tenants, small_app):
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65_536, "more_body": True}  # a body that never ends

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "scheme": "http", "http_version": "1.1", "server": ("test", 80), "client": None,
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"50001")]}
    await small_app(scope, receive, send)
    assert reads == 0
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def stream(app: Any, tok: str, first: bytes) -> tuple[int, list[dict]]:
    """Post ``first`` and then 10,000 spaces per chunk forever (chunked: no declared length); the chunks read."""
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": first if reads == 1 else b" " * 10_000, "more_body": True}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "scheme": "http", "http_version": "1.1", "server": ("test", 80), "client": None,
             "headers": [(b"content-type", b"application/json"), (b"authorization", f"Bearer {tok}".encode())]}
    await app(scope, receive, send)
    return reads, sent


async def test_a_streamed_body_is_cut_off_at_the_graphql_limit_unless_it_opens_an_import(three_tenants, small_app,
                                                                                         token):
    a = three_tenants[0]
    # Anything but an import: the first chunk already passes 2,000 bytes, so it is the only one read.
    reads, sent = await stream(small_app, token(a.slug), b'{"query": "{ me { userId } }", "x": "' + b" " * 9_960)
    assert reads == 1 and sent[0]["status"] == 413
    # Variables before the query: the server cannot know it is an import, so the GraphQL limit holds.
    reads, sent = await stream(small_app, token(a.slug), b'{"variables": {"c": "' + b" " * 9_979)
    assert reads == 1 and sent[0]["status"] == 413
    # An import's query comes first: it may stream up to the import limit, 50,000 bytes. The first chunk is
    # 10,000 bytes too, so 6 x 10,000 pass 50,000 and the sixth chunk is the last one read.
    opening = b'{"query": "mutation($c: String!) { importTerritory(input: {format: CSV, content: $c}) { applied } }"'
    opening += b', "variables": {"c": "'
    reads, sent = await stream(small_app, token(a.slug), opening + b" " * (10_000 - len(opening)))
    assert reads == 6 and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_an_import_may_send_more_than_the_graphql_limit(three_tenants, small_app, token):
    a = three_tenants[0]
    mutation = """mutation($c: String!) { importTerritory(input: {format: CSV, content: $c, dryRun: true})
      { applied dryRun } }"""
    content = "街道编码,街道名称\n" + "LS01,临沭街道\n" * 400  # about 7,000 bytes: over 2,000, under 50,000
    async with AsyncClient(transport=ASGITransport(app=small_app), base_url="http://test") as c:
        body = json.dumps({"query": mutation, "variables": {"c": content}}).encode()
        assert 2_000 < len(body) < 50_000
        resp = await post(c, token(a.slug), body)
        assert resp.status_code == 200 and "PAYLOAD_TOO_LARGE" not in resp.text, resp.text[:300]
        assert "importTerritory" in (resp.json()["data"] or {}) or resp.json()["errors"][0]["path"], resp.text[:300]
        # The same size for anything else is refused
        other = json.dumps({"query": "{ me { userId } }", "variables": {"c": content}}).encode()
        too_large(await post(c, token(a.slug), other), 2_000)
        # and so is a query that hides another root field beside the import
        mixed = json.dumps({"query": mutation.replace("{ applied dryRun } }", "{ applied } me { userId } }"),
                            "variables": {"c": content}}).encode()
        too_large(await post(c, token(a.slug), mixed), 2_000)
        # an import over the import limit too
        huge = json.dumps({"query": mutation, "variables": {"c": content * 8}}).encode()
        too_large(await post(c, token(a.slug), huge), 2_000)
