"""Jobs: fan-out per tenant with deterministic ids, JobRun once per (kind, tenant, period), after-commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from jobs.worker import fan_out, job_id, run_tenant_job
from tenants import queue
from tenants.jobruns import service as jobruns
from tenants.jobruns.models import JobRun, JobRunStatus
from tenants.scope import platform_transaction, tenant_context, tenant_transaction
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import set_tenant_active, tenant_models
from tests.fixtures.jobs import drain

AT = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)  # 01:30 on 2026-11-22 in Asia/Shanghai


async def _all_runs() -> list[dict]:
    rows = []
    async with platform_transaction():
        tenants = await Tenant.all().order_by("id")
    for t in tenants:
        async with tenant_transaction(t.id):
            rows += await JobRun.all().order_by("id").values("tenant_id", "kind", "period_key", "run_no", "status")
    return rows


async def test_fan_out_runs_one_job_per_tenant_once_per_period(three_tenants):
    assert await fan_out({}, "data_volume", at=AT) == 3
    pool = await queue.get_pool()
    queued = sorted(j.job_id for j in await pool.queued_jobs())
    assert queued == sorted(job_id("data_volume", t.id, "2026-11-22") for t in three_tenants)
    assert await drain() == 3
    runs = await _all_runs()
    assert [(r["tenant_id"], r["period_key"], r["run_no"], r["status"]) for r in runs] == [
        (t.id, "2026-11-22", 1, JobRunStatus.SUCCEEDED) for t in three_tenants
    ]
    # The same tick again: arq's job ids dedupe while results are kept ...
    await fan_out({}, "data_volume", at=AT)
    assert await pool.queued_jobs() == []
    # ... and once Redis has forgotten them, the database still refuses a duplicate run.
    await pool.flushdb()
    await fan_out({}, "data_volume", at=AT)
    assert await drain() == 3
    assert await _all_runs() == runs


async def test_data_volume_counts_only_the_tenants_own_rows(three_tenants):
    a, b, _ = three_tenants
    async with tenant_transaction(b.id):
        await JobRun.create(kind="other", period_key="x")
        await JobRun.create(kind="other", period_key="y")
    result = await run_tenant_job({}, "data_volume", a.id, "2026-11-22")
    assert result == {"executed": True, "reason": "executed"}
    async with tenant_transaction(a.id):
        run = await JobRun.get(kind="data_volume")
    assert run.counts["job_run"] == 1  # its own run record only; b's two rows are invisible
    assert set(run.counts) == {m._meta.db_table for m in tenant_models()}
    await run_tenant_job({}, "data_volume", b.id, "2026-11-22")
    async with tenant_transaction(b.id):
        assert (await JobRun.get(kind="data_volume")).counts["job_run"] == 3


async def test_period_keys_follow_each_tenants_time_zone(three_tenants):
    async with platform_transaction():
        await Tenant.filter(slug="linshu").update(timezone="UTC")
    await set_tenant_active(slug="zhangjiakou", active=False)
    assert await fan_out({}, "data_volume", at=AT) == 2
    pool = await queue.get_pool()
    by_id = {t.slug: t.id for t in three_tenants}
    assert sorted(j.job_id for j in await pool.queued_jobs()) == sorted(
        [job_id("data_volume", by_id["linshu"], "2026-11-21"), job_id("data_volume", by_id["xiahuayuan"], "2026-11-22")]
    )


async def test_explicit_rerun_is_a_new_numbered_run_once_per_delivery(three_tenants):
    t = three_tenants[0]
    await run_tenant_job({"job_id": "tick"}, "data_volume", t.id, "2026-11-22")
    again = await run_tenant_job({"job_id": "tick"}, "data_volume", t.id, "2026-11-22")
    assert again == {"executed": False, "reason": "already_done"}
    rerun = await run_tenant_job({"job_id": "rerun-A"}, "data_volume", t.id, "2026-11-22", rerun=True)
    assert rerun["executed"]
    # arq may deliver the same re-run twice: it is the same run, not a third one.
    redelivered = await run_tenant_job({"job_id": "rerun-A"}, "data_volume", t.id, "2026-11-22", rerun=True)
    assert redelivered == {"executed": False, "reason": "already_done"}
    async with tenant_transaction(t.id):
        assert await JobRun.all().order_by("run_no").values_list("run_no", "job_id", "status") == [
            (1, "tick", JobRunStatus.SUCCEEDED), (2, "rerun-A", JobRunStatus.SUCCEEDED)
        ]


async def test_concurrent_reruns_get_distinct_numbers(three_tenants):
    t = three_tenants[0]
    results = await asyncio.gather(
        *(run_tenant_job({"job_id": f"r{i}"}, "data_volume", t.id, "p", rerun=True) for i in range(4))
    )
    assert all(r["executed"] for r in results)
    async with tenant_transaction(t.id):
        assert sorted(await JobRun.all().values_list("run_no", flat=True)) == [1, 2, 3, 4]


async def test_execute_refuses_to_run_inside_a_transaction(three_tenants):
    async def body():
        return {}

    with pytest.raises(RuntimeError, match="outside any transaction"):
        async with tenant_transaction(three_tenants[0].id):
            await jobruns.execute(kind="k", period_key="p", body=body)


async def test_a_cancelled_run_is_recorded_as_failed(three_tenants):
    t = three_tenants[0]
    started = asyncio.Event()

    async def hangs():
        started.set()
        await asyncio.sleep(60)

    async def run():
        with tenant_context(t.id):
            await jobruns.execute(kind="hang", period_key="p", body=hangs)

    task = asyncio.create_task(run())
    await started.wait()
    task.cancel()  # what arq's job_timeout does
    with pytest.raises(asyncio.CancelledError):
        await task
    async with tenant_transaction(t.id):
        run_row = await JobRun.get(kind="hang")
    assert (run_row.status, run_row.attempts) == (JobRunStatus.FAILED, 1)
    assert run_row.error.startswith("CancelledError")


async def test_a_failing_job_asks_arq_to_retry_with_back_off(three_tenants, monkeypatch):
    from arq import Retry

    from jobs import kinds

    async def broken():
        raise ConnectionError("registry down")

    monkeypatch.setitem(kinds.KINDS, "broken", kinds.JobKind("broken", kinds.daily, broken))
    t = three_tenants[0]
    with pytest.raises(Retry) as retry:
        await run_tenant_job({"job_try": 1}, "broken", t.id, "p")
    assert retry.value.defer_score == 60_000
    with pytest.raises(ConnectionError):
        await run_tenant_job({"job_try": 3}, "broken", t.id, "p")
    async with tenant_transaction(t.id):
        run_row = await JobRun.get(kind="broken")
    assert (run_row.status, run_row.attempts) == (JobRunStatus.FAILED, 2)


async def test_two_workers_at_once_execute_the_body_once(three_tenants):
    t = three_tenants[0]
    calls = 0

    async def slow_body():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return {"done": 1}

    async def one():
        with tenant_context(t.id):
            return await jobruns.execute(kind="slow", period_key="p", body=slow_body)

    outcomes = await asyncio.gather(one(), one(), one())
    assert calls == 1
    assert sorted(o.executed for o in outcomes) == [False, False, True]
    async with tenant_transaction(t.id):
        assert await JobRun.filter(kind="slow").count() == 1


async def test_a_failed_run_is_recorded_and_a_retry_completes_it(three_tenants):
    t = three_tenants[0]

    async def failing():
        await JobRun.create(kind="side-effect", period_key="p")
        raise ValueError("upstream refused")

    with tenant_context(t.id), pytest.raises(ValueError):
        await jobruns.execute(kind="flaky", period_key="p", body=failing)
    async with tenant_transaction(t.id):
        run = await JobRun.get(kind="flaky")
        assert run.status == JobRunStatus.FAILED and "upstream refused" in run.error
        assert not await JobRun.exists(kind="side-effect")  # the body's writes were rolled back whole

    async def fine():
        return {"ok": 1}

    with tenant_context(t.id):
        outcome = await jobruns.execute(kind="flaky", period_key="p", body=fine)
    assert outcome.executed
    async with tenant_transaction(t.id):
        run = await JobRun.get(kind="flaky")
        assert (run.status, run.counts, run.error, run.run_no) == (JobRunStatus.SUCCEEDED, {"ok": 1}, None, 1)
        assert run.attempts == 2  # the failed attempt and the one that succeeded


async def test_a_crashed_runners_row_is_taken_over(three_tenants):
    t = three_tenants[0]
    async with tenant_transaction(t.id):  # what a worker killed after phase 1 leaves behind
        await JobRun.create(kind="data_volume", period_key="2026-11-22", status=JobRunStatus.RUNNING)
    assert (await run_tenant_job({}, "data_volume", t.id, "2026-11-22"))["executed"]
    async with tenant_transaction(t.id):
        assert await JobRun.filter(kind="data_volume").values_list("status", flat=True) == [JobRunStatus.SUCCEEDED]


async def test_jobs_are_queued_only_after_commit(three_tenants):
    t = three_tenants[0]
    pool = await queue.get_pool()
    with pytest.raises(RuntimeError):
        async with tenant_transaction(t.id):
            await queue.enqueue("run_tenant_job", "data_volume", t.id, "p1", job_id="rolled-back")
            assert await pool.queued_jobs() == []  # not yet: the transaction is open
            raise RuntimeError("abort")
    assert await pool.queued_jobs() == []
    async with tenant_transaction(t.id):
        await queue.enqueue("run_tenant_job", "data_volume", t.id, "p2", job_id="committed")
        assert await pool.queued_jobs() == []
    assert [j.job_id for j in await pool.queued_jobs()] == ["committed"]


async def test_job_runs_are_listed_for_tenant_admins_newest_first(three_tenants, gql, token):
    a, b, _ = three_tenants
    for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
        await run_tenant_job({}, "data_volume", a.id, day)
    await run_tenant_job({}, "data_volume", b.id, "2026-11-22")
    body = await gql(
        "{ jobRuns(first: 2) { edges { node { kind periodKey status runNo counts outcome { counts { key count }"
        " period enabled rated settled waitingFor } } }"
        " pageInfo { hasNextPage endCursor } } }",
        token(a.slug),
    )
    page = body["data"]["jobRuns"]
    assert [e["node"]["periodKey"] for e in page["edges"]] == ["2026-11-22", "2026-11-21"]
    assert page["edges"][0]["node"]["status"] == "SUCCEEDED"
    node = page["edges"][0]["node"]  # the typed outcome carries the JSON counts: a row count per table
    assert {c["key"]: c["count"] for c in node["outcome"]["counts"]} == node["counts"]
    assert node["counts"]["job_run"] == 3  # the tenant's three runs (this one included)
    assert (node["outcome"]["period"], node["outcome"]["settled"], node["outcome"]["waitingFor"]) == (None, None, [])
    assert page["pageInfo"]["hasNextPage"]
    body = await gql(
        'query($a: String) { jobRuns(first: 2, after: $a, kind: "data_volume") { edges { node { periodKey } } } }',
        token(a.slug),
        {"a": page["pageInfo"]["endCursor"]},
    )
    assert [e["node"]["periodKey"] for e in body["data"]["jobRuns"]["edges"]] == ["2026-11-20"]


async def test_a_tenant_created_without_a_preset_has_a_whole_configuration_and_its_jobs_run(app, gql, token):
    from tenants.tenancy.service import create_tenant

    await create_tenant(slug="newtown", name="新城县")  # no preset, no city above it
    body = await gql('{ effectiveConfig { versions { tenant versionNo } values(prefix: "assessment.mode")'
                     " { value source } } }", token("newtown"))
    assert body["data"]["effectiveConfig"] == {"versions": [{"tenant": "newtown", "versionNo": 1}],
                                               "values": [{"value": "weighted", "source": "newtown"}]}
    async with platform_transaction():
        tenant = await Tenant.get(slug="newtown")
    for kind in ("ticket_reminders", "assessment", "settlement", "bond_top_ups"):
        assert (await run_tenant_job({}, kind, tenant.id, "p"))["executed"], kind


async def test_a_job_that_fails_on_a_tenants_configuration_names_it_and_keeps_every_problem(app, caplog):
    import logging

    from tenants.config.models import ConfigVersion
    from tenants.tenancy.service import create_tenant

    tenant = await create_tenant(slug="broken", name="坏配置县", preset="linshu")
    async with tenant_transaction(tenant.id):  # what a tenant made before every tenant got a whole document looks like
        await ConfigVersion.create(version_no=2, overrides={"bonds": {"ratio_percent": 5}},
                                   effective_from="2000-01-02", author="legacy", schema_version=1)
    with caplog.at_level(logging.INFO):
        result = await run_tenant_job({"job_try": 1}, "assessment", tenant.id, "2026-11-22T01")
    # Not retried (the same document fails the same way) and not a traceback: one line naming the tenant.
    assert result == {"executed": False, "reason": "failed", "code": "INVALID_INPUT"}
    failures = [r for r in caplog.records if "failed" in r.getMessage() and r.levelno >= logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is None
    assert f"of tenant broken (id {tenant.id})" in failures[0].getMessage()
    async with tenant_transaction(tenant.id):
        run = await JobRun.get(kind="assessment")
    assert run.status == JobRunStatus.FAILED
    lines = run.error.splitlines()
    # The document holds only bonds.ratio_percent: the other 7 sections and bonds' 2 other keys are missing,
    # 9 problems, each on its own line.
    assert lines[0] == "INVALID_INPUT: 9 problems in the input (输入有 9 处错误)"
    assert "- assessment: required: is required (必填)" in lines
    assert "- bonds.enabled: required: is required (必填)" in lines
    assert len([line for line in lines if line.endswith(": required: is required (必填)")]) == 9
