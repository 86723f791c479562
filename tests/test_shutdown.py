"""Issue 16, graceful shutdown: SIGTERM lets what is in flight finish within CIVICGRID_SHUTDOWN_SECONDS, and the
process exits 0. Real `civicgrid api` and `civicgrid worker` processes on the test database and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx

from api.embedded import free_port
from tenants import queue
from tenants.jobruns.models import JobRun, JobRunStatus
from tenants.scope import tenant_transaction
from tests.conftest import ROOT

QUERY = b'{"query": "{ __typename }"}'


async def _start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_sigterm_lets_an_in_flight_request_finish_and_the_api_exits_0(three_tenants, token):
    port = free_port()
    env = {**os.environ, "CIVICGRID_SHUTDOWN_SECONDS": "10"}
    proc = await _start("-m", "api.cli", "api", "--port", str(port), env=env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):  # bounded: up to 30 s to import and bind
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        # A request in flight: its headers and half its body are in, the application is reading the rest.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token(three_tenants[0].slug)}\r\nContent-Length: {len(QUERY)}\r\n\r\n")
        writer.write(head.encode() + QUERY[:10])
        await writer.drain()
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert proc.returncode is None  # still draining
        try:  # no new connection is taken meanwhile
            _, late = await asyncio.open_connection("127.0.0.1", port)
            late.close()
            raise AssertionError("a new connection was accepted after SIGTERM")
        except ConnectionRefusedError:
            pass
        writer.write(QUERY[10:])
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)  # the server closes the connection after answering
        writer.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
        assert response.endswith(b'{"data":{"__typename":"Query"}}')
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        await _stop(proc)


# `civicgrid worker` as deployed, with one more job kind: a job that takes 1.5 s and says when it started.
SLOW_WORKER = """
import asyncio, os, sys
from pathlib import Path
from jobs import kinds

async def slow():
    Path(os.environ["SLOW_STARTED"]).touch()
    await asyncio.sleep(1.5)
    return {"slept": 1}

kinds.KINDS["slow"] = kinds.JobKind("slow", kinds.daily, slow)
sys.argv = ["civicgrid", "worker"]
from api.cli import main
main()
"""


async def _runs(tenant_id: int) -> dict[str, str]:
    async with tenant_transaction(tenant_id):
        rows = await JobRun.filter(kind="slow").values_list("period_key", "status")
    return {p: JobRunStatus(s).value for p, s in rows}


async def test_sigterm_stops_the_worker_taking_jobs_lets_the_running_one_finish_and_exits_0(three_tenants, tmp_path):
    t = three_tenants[0]
    started = tmp_path / "started"
    env = {**os.environ, "CIVICGRID_SHUTDOWN_SECONDS": "10", "SLOW_STARTED": str(started),
           "CIVICGRID_WORKER_ID": f"shutdown-test-{os.getpid()}"}
    await queue.enqueue("run_tenant_job", "slow", t.id, "p1", job_id="shutdown:p1")
    proc = await _start("-c", SLOW_WORKER, env=env)
    try:
        for _ in range(600):  # bounded: up to 30 s to start and take p1
            if started.exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert started.exists(), f"p1 never started (worker exit code {proc.returncode})"
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        await queue.enqueue("run_tenant_job", "slow", t.id, "p2", job_id="shutdown:p2")  # after the signal
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        await _stop(proc)
    assert await _runs(t.id) == {"p1": "succeeded"}  # p1 finished; p2 was never taken
    pool = await queue.get_pool()
    assert "shutdown:p2" in {j.job_id for j in await pool.queued_jobs()}

