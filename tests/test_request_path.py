"""The short request path (issue 15): statements per request as PostgreSQL logs them, the tenant cache and the
configuration memo."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

import httpx
import pytest
import time_machine

from api.auth import mint_token
from api.embedded import free_port
from tenants.config import watch
from tenants.db import connect
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.people import Person
from tests.conftest import ROOT
from tests.fixtures.callers import tokens
from tests.fixtures.statements import statement_log
from tests.fixtures.territory import build

ME = "{ me { roles tenant { slug name } } }"
REPORT = "mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id } }"


@pytest.fixture
async def city(app, settings):
    tenant = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    ids = await build(tenant.id)
    async with tenant_transaction(tenant.id):
        await Person.create(user_id="res-1", name="res-1", household_id=ids["H1"])
    return {"tenant": tenant, "ids": ids, **tokens(settings, tenant, ids, resident="res-1", admin="admin")}


def _report_input(c: dict, n: int) -> dict:
    return {"in": {"itemCode": "corridor_clutter", "description": f"楼道堆放杂物 {n}",
                   "compoundId": str(c["ids"]["K1"])}}


async def _statements(services, gql, query: str, token: str, variables=None) -> list[str]:
    await gql(query, token, variables(0) if variables else None)  # warm: caches and prepared statements
    async with statement_log(services) as log:
        await gql(query, token, variables(1) if variables else None)  # new connections: prepared afresh
        log.mark()
        body = await gql(query, token, variables(2) if variables else None)
        statements = log.read()
    assert "errors" not in body, body
    return statements


async def test_statements_per_request(services, city, gql):
    me = await _statements(services, gql, ME, city["admin"])
    report = await _statements(services, gql, REPORT, city["resident"], lambda n: _report_input(city, n))
    print("me", len(me), *me, sep="\n  ")
    print("reportTicket", len(report), *report, sep="\n  ")
    assert len(me) <= 4, me
    # BEGIN + scope and COMMIT are the request path's own (3; the configuration's versions are remembered while
    # the process hears their changes, tenants/config/watch.py); the rest is the report's: the resident's
    # household (their data scope, whose row also places their own compound: no query for it) and the two INSERTs.
    # Before issue 15: 26 (a platform transaction for the token's tenant, four pool resets, the tenant row three
    # times more, a savepoint, a photo check without photos).
    assert len(report) <= 6, report
    assert not any('FROM "compound"' in s for s in report), report
    assert not any(s.startswith(("SAVEPOINT", "RESET", "CLOSE")) for s in report), report
    assert not any('FROM "tenant"' in s for s in report), report  # nor the tenant's row (its zone, its slug)
    assert not any("FROM config_version" in s for s in report), report


async def _owner_sql(services, sql: str, *args) -> None:
    conn = await connect(services.owner_url)  # another process's change, as this one's database sees it
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def _until(check, seconds: float = 3.0) -> float:
    """Poll ``check()`` until it is true; how long it took (fails after ``seconds``)."""
    start = monotonic()
    while not await check():
        assert monotonic() - start < seconds, "not seen in time"
        await asyncio.sleep(0.02)
    return monotonic() - start


async def _another_process_sets_sla(services, tenant_id: int, hours: int) -> None:
    """A new version committed by another process (the owner's connection; this process's memo never sees it)."""
    await _owner_sql(services, """INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author,
        comment, created_at) SELECT $1, version_no + 1, overrides || jsonb_build_object('tickets',
        coalesce(overrides->'tickets', '{}') || jsonb_build_object('review_dispatch_sla_hours', $2::int)),
        '2000-01-01', 'other', '', now() FROM config_version WHERE tenant_id = $1 ORDER BY version_no DESC LIMIT 1""",
                     tenant_id, hours)


async def test_a_version_added_by_another_process_is_heard_and_read_anew(app, services, gql, token):
    """The memo of versions (tenants/config/watch.py) reads none while warm, and forgets a tenant when another
    process's commit notifies it: the next request reads the new chain, also a district's below its city."""
    city = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou", preset="xiahuayuan")
    district = token("xiahuayuan")
    assert await _sla(gql, district) == (3, "zhangjiakou")
    async with statement_log(services) as log:
        log.mark()
        assert await _sla(gql, district) == (3, "zhangjiakou")
        assert not any("FROM config_version" in s for s in log.read()), log.read()
    await _another_process_sets_sla(services, city.id, 4)

    async def four() -> bool:
        return await _sla(gql, district) == (4, "zhangjiakou")
    assert await _until(four) < 1.0  # a notice, not a time-to-live


async def test_while_the_listener_is_cut_every_request_reads_the_versions(app, services, gql, token):
    city = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    admin = token("zhangjiakou")
    assert await _sla(gql, admin) == (3, "zhangjiakou")
    assert watch.WATCH.live
    pid = watch.WATCH._conn.get_server_pid()
    await _owner_sql(services, "SELECT pg_terminate_backend($1)", pid)
    await _until(lambda: _true(watch.WATCH.live and watch.WATCH._conn.get_server_pid() != pid))  # reconnected
    await _another_process_sets_sla(services, city.id, 6)

    async def six() -> bool:
        return await _sla(gql, admin) == (6, "zhangjiakou")
    assert await _until(six) < 1.0
    watch.WATCH.live = False  # as while the connection is down: a change is read on the very next request
    try:
        await _another_process_sets_sla(services, city.id, 7)
        assert await _sla(gql, admin) == (7, "zhangjiakou")
    finally:
        watch.WATCH.live = True


async def _true(value: bool) -> bool:
    return value


SLA = '{ effectiveConfig { values(prefix: "tickets.review_dispatch_sla_hours") { value source } } }'
CHANGE = """mutation($set: JSON, $from: Date) { changeConfig(input: {set: $set, effectiveFrom: $from,
  comment: "调整受理时限"}) { versionNo } }"""
WITHDRAW = """mutation($no: Int!) { withdrawConfigVersion(versionNo: $no, reason: "不再调整") { versionNo } }"""
SET_ACTIVE = "mutation($slug: String!) { setTenantActive(slug: $slug, active: false) { slug } }"


async def _sla(gql, token: str) -> tuple[int, str]:
    body = await gql(SLA, token)
    assert "errors" not in body, body
    value = body["data"]["effectiveConfig"]["values"][0]
    return value["value"], value["source"]


async def test_a_deactivated_tenant_is_refused_on_the_next_request(city, gql, token):
    assert "errors" not in await gql(ME, city["admin"])  # the tenant is now in this process's cache
    body = await gql(SET_ACTIVE, token(None, Role.PLATFORM_ADMIN), {"slug": "zhangjiakou"})
    assert "errors" not in body, body
    body = await gql(ME, city["admin"], status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_configuration_change_counts_from_the_next_request_down_the_chain(app, gql, token):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou", preset="xiahuayuan")
    district, city = token("xiahuayuan"), token("zhangjiakou")
    assert await _sla(gql, district) == (3, "zhangjiakou")  # memoised from here on
    body = await gql(CHANGE, city, {"set": {"tickets": {"review_dispatch_sla_hours": 4}}})
    assert "errors" not in body, body
    assert await _sla(gql, district) == (4, "zhangjiakou")
    body = await gql(CHANGE, district, {"set": {"tickets": {"review_dispatch_sla_hours": 2}}})
    assert await _sla(gql, district) == (2, "xiahuayuan")
    assert await _sla(gql, city) == (4, "zhangjiakou")


async def test_a_version_dated_tomorrow_takes_effect_at_the_tenants_midnight(app, gql, token):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    today = date.today()
    before = datetime.combine(today, time(15, 59, 50), tzinfo=UTC)  # 23:59:50 in Beijing
    with time_machine.travel(before, tick=False):
        admin = token("zhangjiakou")
        tomorrow = (today + timedelta(days=1)).isoformat()
        body = await gql(CHANGE, admin, {"set": {"tickets": {"review_dispatch_sla_hours": 5}}, "from": tomorrow})
        assert "errors" not in body, body
        assert await _sla(gql, admin) == (3, "zhangjiakou")  # memoised for today
    with time_machine.travel(before + timedelta(seconds=11), tick=False):  # 00:00:01 in Beijing, 16:00 UTC
        assert await _sla(gql, admin) == (5, "zhangjiakou")


async def test_a_withdrawn_version_never_applies_though_the_chain_was_memoised(app, gql, token):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    today = date.today()
    before = datetime.combine(today, time(15, 59, 50), tzinfo=UTC)  # 23:59:50 in Beijing
    with time_machine.travel(before, tick=False):
        admin = token("zhangjiakou")
        tomorrow = (today + timedelta(days=1)).isoformat()
        body = await gql(CHANGE, admin, {"set": {"tickets": {"review_dispatch_sla_hours": 5}}, "from": tomorrow})
        assert "errors" not in body, body
        on_tomorrow = '{ effectiveConfig(on: "%s") { values(prefix: "tickets.review_dispatch_sla_hours") { value } } }'
        body = await gql(on_tomorrow % tomorrow, admin)
        assert body["data"]["effectiveConfig"]["values"][0]["value"] == 5  # tomorrow's chain, memoised
        body = await gql(WITHDRAW, admin, {"no": 2})
        assert "errors" not in body, body
    with time_machine.travel(before + timedelta(seconds=11), tick=False):
        assert await _sla(gql, admin) == (3, "zhangjiakou")


def _start_api(port: int, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "api", "--port", str(port), *options], cwd=ROOT,
                            env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


async def test_another_process_refuses_a_deactivated_tenant_within_the_cache_ttl(city, settings, monkeypatch):
    """Two API processes: B has the tenant cached when A deactivates it; B answers 401 within
    CIVICGRID_TENANT_CACHE_SECONDS (1 s here) plus one poll."""
    monkeypatch.setenv("CIVICGRID_TENANT_CACHE_SECONDS", "1")
    ports = [free_port(), free_port()]
    procs = [_start_api(p) for p in ports]
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            async def post(port: int, query: str, tok: str, variables: dict | None = None) -> httpx.Response:
                return await client.post(f"http://127.0.0.1:{port}/graphql", json={"query": query,
                                         "variables": variables or {}}, headers={"Authorization": f"Bearer {tok}"})

            for port in ports:
                for _ in range(300):  # bounded: up to 30 s to import and bind
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            a, b = ports
            assert (await post(b, ME, city["admin"])).status_code == 200  # B caches the tenant
            platform = mint_token(settings, roles=[Role.PLATFORM_ADMIN], tenant_slug=None)
            assert "errors" not in (await post(a, SET_ACTIVE, platform, {"slug": "zhangjiakou"})).json()
            deactivated = monotonic()
            assert (await post(a, ME, city["admin"])).status_code == 401  # A forgot it at once
            while (await post(b, ME, city["admin"])).status_code == 200:
                assert monotonic() - deactivated < 1.0 + 0.5, "B still serves the tenant after its cache TTL"
                await asyncio.sleep(0.05)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


async def test_a_verified_token_is_kept_but_the_clock_is_checked_every_time(city, gql, settings):
    from api import auth

    short = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="zhangjiakou", ttl_seconds=60)
    assert "errors" not in await gql(ME, short)
    assert any(token == short for _, token in auth._verified)  # the signature is checked once
    assert "errors" not in await gql(ME, short)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=False):
        body = await gql(ME, short, status=401)
    assert body["errors"][0]["extensions"]["messageEn"] == "token has expired"
    with time_machine.travel(datetime.now(UTC) - timedelta(seconds=30), tick=False):
        body = await gql(ME, short, status=401)  # a clock set back: issued in the future again
    assert "issued in the future" in body["errors"][0]["extensions"]["messageEn"]
    forged = short[:-2] + ("AA" if not short.endswith("AA") else "BB")
    assert (await gql(ME, forged, status=401))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"



def _children(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    return {int(p) for p in found}


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in state.lower()


async def test_the_api_runs_as_several_worker_processes(city):
    """`civicgrid api --workers 2`: worker processes answer on one port (the protocol class reaches them by import
    string, api/server.py), and SIGTERM stops the supervisor with every process it started."""
    port = free_port()
    proc = _start_api(port, "--workers", "2")
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(300):  # bounded: up to 30 s to import and bind
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            for _ in range(40):
                resp = await client.post(f"http://127.0.0.1:{port}/graphql", json={"query": ME},
                                         headers={"Authorization": f"Bearer {city['admin']}", "Connection": "close"})
                assert resp.status_code == 200 and "errors" not in resp.json(), resp.text
        started = _children(proc.pid)
        assert len(started) >= 2, started  # the two workers (and multiprocessing's helper)
        proc.terminate()
        assert proc.wait(30) == 0
        for _ in range(100):  # multiprocessing's helper follows its parent within moments
            if not [pid for pid in started if _running(pid)]:
                break
            await asyncio.sleep(0.1)
        assert not [pid for pid in started if _running(pid)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)


async def test_the_tenant_cache_keeps_only_what_committed(app):
    """A tenant created in a platform transaction that then rolls back is not kept (nor served from memory)."""
    from tenants.scope import platform_transaction
    from tenants.tenancy import cache
    from tenants.tenancy.service import create_tenant

    class Abort(Exception):
        pass

    try:
        async with platform_transaction():
            await create_tenant(slug="ghost", name="幽灵", preset="zhangjiakou")
            raise Abort
    except Abort:
        pass
    assert await cache.by_slug("ghost", ttl=3600) is None
    made = await create_tenant(slug="ghost", name="幽灵", preset="zhangjiakou")
    assert (await cache.by_slug("ghost", ttl=3600)).id == made.id  # type: ignore[union-attr]
