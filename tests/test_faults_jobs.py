"""Jobs survive faults: every start, finish and failure is logged; missed and failed periods run on a later tick."""

from __future__ import annotations

import logging

import pytest
from arq import Retry

from jobs import kinds
from jobs.worker import create_worker, fan_out, job_id, run_tenant_job
from tenants import clock, queue
from tenants.jobruns.models import JobRun, JobRunStatus
from tenants.scope import tenant_transaction


async def test_the_worker_logs_each_job_start_finish_and_failure(three_tenants, monkeypatch, caplog):
    t = three_tenants[0]
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database restarting")
        return {"ok": 1}

    monkeypatch.setitem(kinds.KINDS, "flaky", kinds.JobKind("flaky", kinds.daily, flaky))
    with caplog.at_level(logging.INFO, logger="civicgrid.jobs"):
        with pytest.raises(Retry):
            await run_tenant_job({"job_try": 1}, "flaky", t.id, "2026-11-22")
        await run_tenant_job({"job_try": 2}, "flaky", t.id, "2026-11-22")
        await run_tenant_job({"job_try": 1}, "flaky", t.id, "2026-11-22")  # delivered again: already done
    lines = [r.getMessage() for r in caplog.records if r.name == "civicgrid.jobs"]
    what = f"job flaky tenant {t.id} period 2026-11-22"
    assert [line.split(":")[0] for line in lines] == [what] * 6
    assert lines[0] == f"{what}: start (try 1)"
    assert lines[1].startswith(f"{what}: failed in ") and "(try 1 of 3, retried): ConnectionError: database" in lines[1]
    assert lines[2] == f"{what}: start (try 2)"
    assert lines[3].startswith(f"{what}: finished in ") and lines[3].endswith(" s")
    assert lines[5].startswith(f"{what}: skipped (already_done) in ")
    async with tenant_transaction(t.id):
        run = await JobRun.get(kind="flaky")
    assert (run.status, run.attempts) == (JobRunStatus.SUCCEEDED, 2)


async def _runs(tenant_id: int, kind: str) -> list[tuple[str, str, int]]:
    async with tenant_transaction(tenant_id):
        rows = await JobRun.filter(kind=kind).order_by("period_key").values_list("period_key", "status", "attempts")
    return [(p, JobRunStatus(s).value, a) for p, s, a in rows]


async def test_a_tick_catches_up_on_the_periods_it_missed(three_tenants):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from tests.fixtures.jobs import drain

    now = clock.now()  # the tenants were made just now, on tenant-local day D
    zone = ZoneInfo(three_tenants[0].timezone)
    d = [kinds.daily(now + timedelta(days=i), zone) for i in range(3)]
    # Two daily ticks were lost (the worker or the database was down): the third one runs D, D+1 and D+2,
    # never a day before the tenants existed: 3 tenants x 3 days = 9 runs.
    assert await fan_out({}, "data_volume", at=now + timedelta(days=2)) == 9
    assert await drain() == 9
    for t in three_tenants:
        assert await _runs(t.id, "data_volume") == [(p, "succeeded", 1) for p in d]
    # The same tick again has nothing left to do.
    assert await fan_out({}, "data_volume", at=now + timedelta(days=2)) == 0
    # The reminder tick needs only its latest minute: 10 minutes without a tick still queue one run per tenant.
    assert await fan_out({}, "ticket_reminders", at=now + timedelta(minutes=10)) == 3


async def test_a_job_that_exhausted_its_tries_is_failed_and_retried_by_the_next_tick(three_tenants, monkeypatch):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from tests.fixtures.jobs import drain

    broken = True

    async def fragile():
        if broken:
            raise ConnectionError("database restarting")
        return {"ok": 1}

    monkeypatch.setitem(
        kinds.KINDS, "fragile", kinds.JobKind("fragile", kinds.daily, fragile, timedelta(days=1), 3)
    )
    a = three_tenants[0]
    now = clock.now()
    zone = ZoneInfo(a.timezone)
    day0, day1 = kinds.daily(now, zone), kinds.daily(now + timedelta(days=1), zone)
    assert await fan_out({}, "fragile", at=now) == 3
    with pytest.raises(ConnectionError):  # the last of 3 tries fails too: recorded, not dropped
        await run_tenant_job({"job_try": 3, "job_id": job_id("fragile", a.id, day0)}, "fragile", a.id, day0)
    assert await _runs(a.id, "fragile") == [(day0, "failed", 1)]
    await (await queue.get_pool()).flushdb()  # the other tenants' day-0 jobs were lost with Redis
    broken = False
    # The next day's tick: day 0 again for every tenant (a failed one, two that never ran) and day 1: 6 runs.
    assert await fan_out({}, "fragile", at=now + timedelta(days=1)) == 6
    pool = await queue.get_pool()
    assert job_id("fragile", a.id, day0) + f"@{day1}" in {j.job_id for j in await pool.queued_jobs()}
    assert await drain() == 6
    assert await _runs(a.id, "fragile") == [(day0, "succeeded", 2), (day1, "succeeded", 1)]
    for t in three_tenants[1:]:
        assert await _runs(t.id, "fragile") == [(day0, "succeeded", 1), (day1, "succeeded", 1)]


# A burst worker on the test's own database connections (no startup/shutdown of its own) and without cron ticks.
IN_TEST = {"burst": True, "poll_delay": 0.05, "handle_signals": False, "on_startup": None, "on_shutdown": None,
           "cron_jobs": None}

KILLED_RUNNER = """
import asyncio, sys
from tortoise import Tortoise
from tenants.db import tortoise_config
from tenants.jobruns import service as jobruns
from tenants.scope import tenant_context
from tenants.settings import get_settings

async def body():
    print("started", flush=True)
    await asyncio.sleep(600)  # killed long before

async def main():
    await Tortoise.init(config=tortoise_config(get_settings().require_database_url(), pool_size=2))
    with tenant_context(int(sys.argv[1])):
        await jobruns.execute(kind="data_volume", period_key=sys.argv[2], body=body)

asyncio.run(main())
"""


async def test_a_killed_runners_start_counts_and_another_worker_takes_the_run_over(three_tenants):
    import asyncio
    import os
    import signal
    import sys

    t = three_tenants[0]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_RUNNER, str(t.id), "2026-11-22", stdout=asyncio.subprocess.PIPE,
        env=os.environ,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"started\n"  # inside the body, row locked
    assert (await run_tenant_job({}, "data_volume", t.id, "2026-11-22"))["reason"] == "in_progress"
    proc.send_signal(signal.SIGKILL)
    await asyncio.wait_for(proc.wait(), 10)
    # The kill rolled the body back but not its start: the row is running with 1 attempt, and a second worker
    # takes it over (PostgreSQL released the dead connection's lock), making 2 starts.
    assert await _runs(t.id, "data_volume") == [("2026-11-22", "running", 1)]
    for _ in range(100):  # the server notices the dead client at once; bounded in case it is slow
        result = await run_tenant_job({}, "data_volume", t.id, "2026-11-22")
        if result["reason"] != "in_progress":
            break
        await asyncio.sleep(0.1)
    assert result == {"executed": True, "reason": "executed"}
    assert await _runs(t.id, "data_volume") == [("2026-11-22", "succeeded", 2)]


async def test_a_dead_workers_job_is_picked_up_within_its_lease_and_a_live_one_keeps_its_lease(three_tenants):
    import asyncio
    import time

    from arq.constants import in_progress_key_prefix
    from arq.worker import Worker

    from jobs.worker import LEASE_SECONDS, create_worker, worker_settings

    # arq alone keeps a started job for its timeout + 10 s (610 s); the civicgrid worker leases it for 45 s.
    settings = worker_settings()
    plain = Worker(functions=settings.functions, job_timeout=settings.job_timeout, redis_settings=None)
    assert plain.in_progress_timeout_s == 610
    assert create_worker().in_progress_timeout_s == LEASE_SECONDS <= 60

    t = three_tenants[0]
    pool = await queue.get_pool()
    jid = job_id("data_volume", t.id, "2026-11-22")
    await queue.enqueue("run_tenant_job", "data_volume", t.id, "2026-11-22", job_id=jid)
    # A worker took it and was killed: its in-progress key (here a 1 s lease) is left with no one to renew it.
    await pool.psetex(in_progress_key_prefix + jid, 1000, b"1")
    worker = create_worker(**IN_TEST, lease_seconds=1)
    started = time.monotonic()
    try:
        await asyncio.wait_for(worker.main(), 20)
    finally:
        await worker.close()
    assert worker.jobs_complete == 1 and time.monotonic() - started < 10
    assert await _runs(t.id, "data_volume") == [("2026-11-22", "succeeded", 1)]

    # A live worker renews its running job's lease: 2.5 s into a job with a 1 s lease the key is still there.
    gate = asyncio.Event()

    async def slow():
        await gate.wait()
        return {"ok": 1}

    kinds.KINDS["slow"] = kinds.JobKind("slow", kinds.daily, slow)
    try:
        jid = job_id("slow", t.id, "2026-11-22")
        await queue.enqueue("run_tenant_job", "slow", t.id, "2026-11-22", job_id=jid)
        worker = create_worker(**IN_TEST, lease_seconds=1)
        main = asyncio.create_task(worker.main())
        try:
            for _ in range(200):  # bounded: until the job has started
                if await pool.exists(in_progress_key_prefix + jid):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.5)
            assert await pool.exists(in_progress_key_prefix + jid)
            gate.set()
            await asyncio.wait_for(main, 20)
        finally:
            gate.set()
            await worker.close()
    finally:
        del kinds.KINDS["slow"]
    assert worker.jobs_complete == 1
    assert await _runs(t.id, "slow") == [("2026-11-22", "succeeded", 1)]


async def test_each_worker_reports_its_own_liveness_so_a_frozen_one_fails_its_check(three_tenants):
    import asyncio
    import os
    import sys

    from jobs.worker import check, create_worker, health_key

    async def beat(worker) -> None:  # one poll of an idle worker: it records its health (if its interval passed)
        await asyncio.wait_for(worker.main(), 20)

    # Two replicas (CIVICGRID_WORKER_ID w1 and w2), each health key living 3 + 1 s.
    w1 = create_worker(**IN_TEST, health_check_interval=3, health_check_key=health_key("w1"))
    w2 = create_worker(**IN_TEST, health_check_interval=3, health_check_key=health_key("w2"))
    try:
        await beat(w1)
        await beat(w2)
        assert (await check("w1"), await check("w2"), await check("w3")) == (0, 0, 1)  # w3 never ran
        await asyncio.sleep(4.2)  # w1 froze (it polls no more); w2 goes on
        await beat(w2)
        assert (await check("w1"), await check("w2")) == (1, 0)
        env = {**os.environ, "CIVICGRID_WORKER_ID": "w1"}  # the frozen replica's own probe
        probe = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.cli", "worker", "--check", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        assert await asyncio.wait_for(probe.wait(), 60) == 1
    finally:
        await w1.close()
        await w2.close()



class RedisProxy:
    """A TCP proxy in front of the test's Redis that can go down (cutting every connection) and come back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server = None
        self.writers: set = set()

    async def up(self) -> None:
        import asyncio

        async def pipe(reader, writer) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(reader, writer) -> None:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self.writers |= {writer, up_writer}
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        self.server.close()
        for w in self.writers:
            w.close()
        self.writers.clear()
        await self.server.wait_closed()


async def test_the_worker_rides_out_a_redis_restart(three_tenants, caplog):
    import asyncio
    import dataclasses

    t = three_tenants[0]
    real = queue.redis_settings()
    proxy = RedisProxy(real.host, real.port)
    await proxy.up()
    settings = dataclasses.replace(real, port=proxy.port)
    worker = create_worker(**{**IN_TEST, "burst": False}, redis_settings=settings)
    worker_task = asyncio.create_task(worker.main())

    async def run(period: str) -> None:  # queue a job straight into Redis; bounded wait for the worker to do it
        await queue.enqueue("run_tenant_job", "data_volume", t.id, period, job_id=f"restart:{period}")
        done = worker.jobs_complete + 1
        for _ in range(300):
            if worker.jobs_complete == done and not any(not task.done() for task in worker.tasks.values()):
                return
            assert not worker_task.done(), worker_task.exception()
            await asyncio.sleep(0.05)
        raise AssertionError(f"{period} never ran")

    try:
        with caplog.at_level(logging.INFO, logger="civicgrid.jobs"):
            await run("p1")
            await proxy.down()  # Redis restarts: every connection is cut, new ones are refused for 1.5 s
            await asyncio.sleep(1.5)
            assert not worker_task.done()  # arq alone exits here with ConnectionError
            await proxy.up()
            await run("p2")
        assert await _runs(t.id, "data_volume") == [("p1", "succeeded", 1), ("p2", "succeeded", 1)]
        outage = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
        assert len(outage) == 2 and "unreachable" in outage[0] and "reachable again" in outage[1]  # once each
    finally:
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
        await worker.close()
        await proxy.down()


async def test_sigterm_drains_the_worker_the_running_job_finishes_and_no_new_one_starts(three_tenants):
    import asyncio
    import os
    import signal

    from tenants.settings import get_settings

    t = three_tenants[0]
    gate = asyncio.Event()

    async def slow():
        await gate.wait()
        return {"ok": 1}

    kinds.KINDS["slow"] = kinds.JobKind("slow", kinds.daily, slow)
    # The worker as `civicgrid worker` makes it, with its own signal handlers on this loop.
    worker = create_worker(**{**IN_TEST, "burst": False, "handle_signals": True})
    assert worker._job_completion_wait == get_settings().shutdown_seconds
    loop = asyncio.get_running_loop()
    worker.main_task = asyncio.create_task(worker.main())
    pool = await queue.get_pool()
    try:
        await queue.enqueue("run_tenant_job", "slow", t.id, "p1", job_id="drain:p1")
        for _ in range(200):  # bounded: until p1 has started
            if await _runs(t.id, "slow"):
                break
            await asyncio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # what Kubernetes sends
        await asyncio.sleep(0.2)
        await queue.enqueue("run_tenant_job", "slow", t.id, "p2", job_id="drain:p2")
        await asyncio.sleep(0.5)  # the worker polls every 0.05 s: p2 would have started by now
        assert not worker.main_task.done()  # still draining p1 ...
        gate.set()
        await asyncio.wait_for(asyncio.gather(worker.main_task, return_exceptions=True), 10)  # ... then exits
        assert await _runs(t.id, "slow") == [("p1", "succeeded", 1)]  # finished, not cancelled; p2 never started
        assert "drain:p2" in {j.job_id for j in await pool.queued_jobs()}  # left for another worker
    finally:
        gate.set()
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
        del kinds.KINDS["slow"]
        await worker.close()
