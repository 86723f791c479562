"""Jobs survive faults: every start, finish and failure is logged; missed and failed periods run on a later tick."""

from __future__ import annotations

import logging

import pytest
from arq import Retry

from jobs import kinds
from jobs.worker import run_tenant_job
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
