"""Issue 12, point 7: a client trickling its headers or stalling its body is cut off; others are served meanwhile.

A real uvicorn (the settings `civicgrid api` runs with, api/server.py) serves the test's app on a free port.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tenants.settings import Settings
from tests.uvicorn_kit import serving


@pytest.fixture
async def server(app, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(settings, "header_timeout_seconds", 1.0)
    monkeypatch.setattr(settings, "body_timeout_seconds", 1.0)
    async with serving(app, settings) as port:
        yield port


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
        await asyncio.sleep(every)


async def test_a_client_trickling_headers_is_cut_off_while_others_are_served(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    started = time.monotonic()
    # 200 header bytes at one per 0.05 s would take 10 s; the header timeout is 1 s.
    dribble = asyncio.create_task(trickle(writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 160, 0.05))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
        for _ in range(3):  # normal requests meanwhile are unaffected
            assert (await client.get("/healthz")).json() == {"status": "ok"}
    # before: the connection stayed open as long as bytes kept coming (the wait_for below timed out)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert 0.9 <= time.monotonic() - started < 4
    dribble.cancel()
    writer.close()


async def test_a_stalled_body_is_a_408(server, three_tenants, token):
    a = three_tenants[0]
    body = json.dumps({"query": "{ me { userId } }"}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    head = (f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token(a.slug)}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    writer.write(head + body[:5])  # then nothing more
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    payload = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert payload["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    writer.close()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
        ok = await client.post("/graphql", json={"query": "{ me { userId } }"},
                               headers={"Authorization": f"Bearer {token(a.slug)}"})
        assert ok.status_code == 200 and "errors" not in ok.json(), ok.text
