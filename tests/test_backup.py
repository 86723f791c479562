"""`civicgrid backup` / `restore`: a tenant with tickets, ledger entries and money, backed up and restored into a
second database of the session's cluster, has every row, its row-level security, the application role's rights
and a balanced ledger there; a database with tables is refused unless emptied first (--clean)."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.context import TortoiseContext
from typer.testing import CliRunner

from api.cli import app as cli
from api.embedded import EmbeddedServices
from tenants import backup
from tenants.backup import BackupFailed
from tenants.db import connect, tortoise_config
from tenants.errors import Conflict, InvalidInput
from tenants.tenancy import cache as tenant_cache
from tests.fixtures.money import settle
from tests.fixtures.tickets import REPORT_TICKET

TARGET = "civicgrid_restored"
APPROVE = "mutation($id: ID!) { approveSettlement(id: $id) { status } }"
PAY = "mutation($id: ID!, $r: String!) { paySettlement(id: $id, reference: $r) { status } }"
CHECK = """{ ledgerCheck { ok mismatches { account } } c1: ledgerBalance(account: "subsidy:pool:2026")
  tickets { edges { node { id } } } }"""


async def snapshot(url: str) -> dict:
    """Rows per table, the row-level security of each table, its policies, and the application role's rights."""
    conn = await connect(url)
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        rows = {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
        security = {r["relname"]: (r["relrowsecurity"], r["relforcerowsecurity"]) for r in await conn.fetch(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relkind = 'r'"
            " AND relnamespace = 'public'::regnamespace")}
        policies = {(r["tablename"], r["policyname"], r["cmd"], r["qual"], r["with_check"]) for r in await conn.fetch(
            "SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'public'")}
        grants = {tuple(r) for r in await conn.fetch(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = $1"
            " UNION SELECT table_name || '.' || column_name, privilege_type FROM information_schema.column_privileges"
            " WHERE grantee = $1", "civicgrid_app")}
    finally:
        await conn.close()
    return {"rows": rows, "security": security, "policies": policies, "grants": grants}


@pytest.fixture
def target(services: EmbeddedServices):
    services.psql(f'DROP DATABASE IF EXISTS "{TARGET}" WITH (FORCE); CREATE DATABASE "{TARGET}";')
    yield (services.owner_url.replace(f"/{services.database}?", f"/{TARGET}?"),
           services.app_url.replace(f"/{services.database}?", f"/{TARGET}?"))
    services.psql(f'DROP DATABASE IF EXISTS "{TARGET}" WITH (FORCE);')


async def test_a_round_trip_keeps_every_row_the_security_and_a_balanced_ledger(
    rated_district, gql, services, target, tmp_path, monkeypatch
):
    w = rated_district
    sid = await settle(gql, w)
    assert (await gql(APPROVE, w["admin"], {"id": sid["C1"]}))["data"]["approveSettlement"]["status"] == "APPROVED"
    assert (await gql(PAY, w["admin"], {"id": sid["C1"], "r": "下花园财 2026-118"}))["data"]["paySettlement"]
    report = {"itemCode": "corridor_clutter", "description": "3单元楼道堆放杂物", "compoundId": str(w["ids"]["K1"])}
    assert "errors" not in await gql(REPORT_TICKET, w["resident"], {"in": report})
    before = await snapshot(services.owner_url)
    checked = await gql(CHECK, w["admin"])
    assert checked["data"]["ledgerCheck"] == {"ok": True, "mismatches": []} and checked["data"]["tickets"]["edges"]
    assert all(before["rows"][t] for t in ("ticket", "ledger_posting", "settlement_statement", "config_version"))

    file = tmp_path / "civicgrid.dump"
    owner, app_url = target
    monkeypatch.setenv("DATABASE_OWNER_URL", services.owner_url)  # the command, as an operator runs it
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["backup", str(file)])  # it runs its own loop
    assert result.exit_code == 0, result.output
    assert file.stat().st_mode & 0o777 == 0o600
    done = await backup.restore(owner, app_url, file)
    assert done.tables == len(before["rows"])
    assert await snapshot(owner) == before  # rows, RLS flags, policies, grants (the role exists in the cluster)

    # A database with tables is refused, named, with what to do; --clean empties it first; a foreign file is no backup.
    with pytest.raises(Conflict) as refused:
        await backup.restore(owner, app_url, file)
    assert refused.value.field == "database" and "--clean" in refused.value.message_en
    await backup.restore(owner, app_url, file, clean=True)
    (tmp_path / "notes.txt").write_text("not a dump")
    with pytest.raises(InvalidInput) as foreign:
        await backup.restore(owner, app_url, tmp_path / "notes.txt", clean=True)
    assert [(p.field, p.reason) for p in foreign.value.problems] == [("file", "format")]
    # A copy cut short in its data passes the table of contents: --clean refuses it before dropping anything.
    cut = tmp_path / "cut.dump"
    cut.write_bytes(file.read_bytes()[:-30])
    with pytest.raises(BackupFailed):
        await backup.restore(owner, app_url, cut, clean=True)
    assert await snapshot(owner) == before  # the target is as it was

    async with TortoiseContext() as ctx:  # the session's API, on the restored database
        await ctx.init(config=tortoise_config(app_url, pool_size=2))
        tenant_cache.clear()
        try:
            assert await gql(CHECK, w["admin"]) == checked
        finally:
            tenant_cache.clear()
    conn = await connect(app_url)  # and RLS still binds the application role there: no tenant, no rows
    try:
        assert await conn.fetchval("SELECT count(*) FROM ticket") == 0
    finally:
        await conn.close()
