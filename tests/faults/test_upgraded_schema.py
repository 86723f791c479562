"""A database upgraded from the oldest supported migration state has exactly the schema of a fresh one; the fresh
one is migrated as a production owner (neither superuser nor BYPASSRLS), with interviews of the shape before
issue 19 written at 0034 and carried through 0035-0038."""

from __future__ import annotations

import asyncio
import difflib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pgserver
import pytest

from api.embedded import EmbeddedServices
from tenants.config.upgrade import SCHEMA_VERSION
from tenants.db import connect
from tests.conftest import ROOT

PG_DUMP = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
# Shipped migrations as they first landed on main, before they were edited (0004 at f26f805, 0005 at 9fa0c8f,
# 0011 at f1b8049, 0012 at 75e7e77). 0001/0002 as first committed (6c6b8d9) cannot be upgraded at all (today's
# 0004 drops a policy they lack), so the oldest supported state has them as they are now; 0015-0017 were edited
# only in their dependencies when branches merged, which changes no schema.
SHIPPED_BEFORE = Path(__file__).parent / "shipped_before"
REPAIR = "0021"  # the migration that repairs them, and every later one, come with the upgrade


OWNER = "civicgrid_upgrade_owner"  # a production owner: owns the database and its tables, no superuser, no BYPASSRLS


def database(svc: EmbeddedServices, name: str, owner: str | None = None) -> str:
    svc._pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')  # type: ignore[attr-defined]
    if owner is None:
        svc._pg.psql(f'CREATE DATABASE "{name}";')  # type: ignore[attr-defined]
        return svc.owner_url.replace(f"/{svc.database}?", f"/{name}?")
    svc._pg.psql(  # type: ignore[attr-defined]
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') THEN"
        f" CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS; END IF; END $$;"
        f' CREATE DATABASE "{name}" OWNER {owner};'
    )
    return svc.owner_url.replace(f"/{svc.database}?", f"/{name}?").replace("//postgres@", f"//{owner}@")


def migrate(url: str, module: str, path: Path = ROOT, target: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "tests.faults._migrate", url, module, *([target] if target else [])],
                   check=True, cwd=ROOT, env=env, timeout=120)


def schema(url: str) -> str:
    """``pg_dump --schema-only`` without what differs between any two dumps (comments, the random \\restrict key)."""
    parsed = urlparse(url)
    socket_dir, name = parse_qs(parsed.query)["host"][0], parsed.path.lstrip("/")
    out = subprocess.run(
        [str(PG_DUMP), "--schema-only", "--no-owner", "-h", socket_dir, "-U", "postgres", name],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith(("--", "\\restrict", "\\unrestrict"))]
    return "\n".join(lines)


def package(tmp: Path, *, shipped_before: bool) -> Path:
    """Every migration before the repair (0021) as an importable package ``shipped_migrations`` under ``tmp``:
    today's files, or with the edited ones as they first shipped (the oldest supported state)."""
    target = tmp / "shipped_migrations"
    shutil.copytree(ROOT / "tenants" / "migrations", target, ignore=shutil.ignore_patterns("__pycache__"))
    for new in target.glob("*.py"):
        if new.name >= REPAIR:
            new.unlink()  # the repair comes with the upgrade
    if shipped_before:
        for old in SHIPPED_BEFORE.glob("*.py.txt"):
            (target / old.name.removesuffix(".txt")).write_text(old.read_text())
    return tmp


def same(a: str, b: str) -> str:
    """The unified diff of two dumps ('' when they are the same)."""
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "upgraded", "fresh", lineterm=""))


@pytest.fixture
def databases(services: EmbeddedServices) -> Iterator[Callable[[str], str]]:
    """Extra databases on the session's server, dropped afterwards."""
    made: list[str] = []

    def make(name: str, owner: str | None = None) -> str:
        made.append(name)
        return database(services, name, owner)

    yield make
    for name in made:
        services._pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')  # type: ignore[attr-defined]
    services._pg.psql(f"DROP ROLE IF EXISTS {OWNER};")  # type: ignore[attr-defined]


OLD = ("company_id", "period_key", "held_on", "attendees::text", "outcome", "follow_up", "follow_up_due",
       "recorded_by", "recorded_at")


async def _write_before_issue_19(url: str) -> list[tuple]:
    """As a release before issue 19 did (through the application role's policies; here as the superuser): a
    tenant, two interviews of firms and a configuration of schema 4, for 0035 and 0037 to upgrade."""
    conn = await connect(url)
    try:
        tenant = await conn.fetchval(
            "INSERT INTO tenant (slug, name, timezone, is_active, created_at, updated_at)"
            " VALUES ('xuanhua', '宣化区', 'Asia/Shanghai', true, now(), now()) RETURNING id")
        await conn.execute(
            "INSERT INTO interview (tenant_id, company_id, period_key, held_on, attendees, outcome, follow_up,"
            " follow_up_due, recorded_by, recorded_at) VALUES"
            " ($1, 7, '2026Q3', '2026-10-09', '[\"王科长\"]', '限期整改', '一月内整改', '2026-11-09', 'u1', now()),"
            " ($1, 8, '2026-09', '2026-10-10', '[]', '已整改', '', NULL, 'u2', now())", tenant)
        await conn.execute(
            "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment,"
            " created_at, schema_version) VALUES ($1, 1, '{}', '1900-01-01', 'platform', 'preset', now(), 4)", tenant)
        return [tuple(r) for r in await conn.fetch(f"SELECT {', '.join(OLD)} FROM interview ORDER BY id")]
    finally:
        await conn.close()


async def _read_after_issue_19(url: str) -> tuple[list[tuple], list[tuple], int, bool]:
    conn = await connect(url)
    try:
        old = [tuple(r) for r in await conn.fetch(f"SELECT {', '.join(OLD)} FROM interview ORDER BY id")]
        new = [tuple(r) for r in await conn.fetch(
            "SELECT subject_kind, subject_id, status, source, reason FROM interview ORDER BY id")]
        version = await conn.fetchval("SELECT schema_version FROM config_version")
        forced = await conn.fetchval("SELECT bool_and(relforcerowsecurity) FROM pg_class"
                                     " WHERE relname IN ('interview', 'config_version')")
        return old, new, version, forced
    finally:
        await conn.close()


def test_a_database_upgraded_from_the_oldest_supported_state_is_a_fresh_one(databases, tmp_path):
    fresh = databases("civicgrid_fresh", owner=OWNER)
    superuser = fresh.replace(f"//{OWNER}@", "//postgres@")
    migrate(fresh, "shipped_migrations", package(tmp_path / "today", shipped_before=False))
    before_repair = schema(fresh)
    repair = next((ROOT / "tenants" / "migrations").glob(f"{REPAIR}_*.py")).stem
    migrate(fresh, "tenants.migrations", target=f"civicgrid.{repair}")
    assert same(before_repair, schema(fresh)) == ""  # the repair changes nothing on a database that never drifted
    migrate(fresh, "tenants.migrations", target="civicgrid.0034_dual_emergency")
    before_19 = asyncio.run(_write_before_issue_19(superuser))
    migrate(fresh, "tenants.migrations")  # and the migrations after it, as the production owner
    # 0037 lifts forced row-level security around its backfill (the owner would see no rows) and restores it;
    # the interviews keep every column and become held, hand-recorded interviews of their firm; 0035 upgrades
    # the stored configuration to the current schema.
    old_columns, new_columns, version, forced = asyncio.run(_read_after_issue_19(superuser))
    assert old_columns == before_19
    assert new_columns == [("firm", 7, "held", "hand", ""), ("firm", 8, "held", "hand", "")]
    assert version == SCHEMA_VERSION and forced
    migrate(fresh, "tenants.migrations")  # again: a no-op
    assert asyncio.run(_read_after_issue_19(superuser))[0] == before_19

    old = databases("civicgrid_upgraded")
    migrate(old, "shipped_migrations", package(tmp_path / "before", shipped_before=True))
    before = schema(old)
    # What drifted: the frozen-ratings trigger let inserts into a published snapshot through, two indexes differ,
    # and a city could not read its districts' rows (two policies), nor was the platform's seed bound to a new tenant.
    assert "BEFORE DELETE OR UPDATE ON public.company_rating" in before
    assert "(tenant_id, account, journal_id)" in before
    assert "child_read" not in before
    migrate(old, "tenants.migrations")
    assert same(schema(old), schema(fresh)) == ""
