"""Issue 12, point 5: an API process killed in the middle of a create leaves nothing half-saved, and the client's
retry with the same idempotencyKey makes exactly one row.

A real `civicgrid api` process (uvicorn) serves the test database. The test holds a lock that parks the request's
INSERT inside its transaction, SIGKILLs the process there, lets the lock go, and then retries on a new process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.embedded import free_port
from tests.fixtures.tickets import REPORT_TICKET, ticket_input, tickets_of

ROOT = Path(__file__).resolve().parents[2]



def start_api(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "api", "--port", str(port)], cwd=ROOT, env=os.environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def ready(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(300):  # bounded: up to 30 s for the process to import and bind
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the API did not start")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def post(port: int, tok: str, variables: dict) -> dict:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        resp = await client.post("/graphql", json={"query": REPORT_TICKET, "variables": variables},
                                 headers={"Authorization": f"Bearer {tok}"})
        return resp.json()


async def test_an_api_killed_inside_a_report_saves_nothing_and_the_retry_makes_one_ticket(two_cities, processes):
    c = two_cities["zhangjiakou"]
    variables = {"in": ticket_input(c, idempotencyKey="killed-1")}
    port = free_port()
    processes.append(start_api(port))
    await ready(port)

    owner = await asyncpg.connect(os.environ["DATABASE_OWNER_URL"])
    try:
        lock = owner.transaction()
        await lock.start()
        await owner.execute("LOCK TABLE ticket IN SHARE ROW EXCLUSIVE MODE")  # INSERTs wait behind it
        request = asyncio.create_task(post(port, c["resident_h1"], variables))
        for _ in range(200):  # bounded: up to 20 s for the request to reach its INSERT
            parked = await owner.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'ticket'::regclass"
            )
            if parked:
                break
            await asyncio.sleep(0.1)
        assert parked == 1, request.done() and request.result()
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(10)
        with pytest.raises(httpx.TransportError):
            await request  # the client lost its response: it cannot know whether the ticket was stored
        await lock.rollback()
        for _ in range(100):  # the orphaned backend notices its client is gone and rolls back
            left = await owner.fetchval(  # any lock on ticket is the orphan's (this connection holds none now)
                "SELECT count(*) FROM pg_locks WHERE relation = 'ticket'::regclass"
            )
            if not left:
                break
            await asyncio.sleep(0.1)
        assert left == 0
    finally:
        await owner.close()
    assert await tickets_of(c["tenant"].id) == 0  # nothing half-saved: no ticket, no claimed key

    port = free_port()
    processes.append(start_api(port))
    await ready(port)
    first = await post(port, c["resident_h1"], variables)
    again = await post(port, c["resident_h1"], variables)
    assert "errors" not in first and "errors" not in again, (first, again)
    assert again["data"]["reportTicket"]["id"] == first["data"]["reportTicket"]["id"]
    assert await tickets_of(c["tenant"].id) == 1
