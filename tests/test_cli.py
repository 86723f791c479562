"""The civicgrid command as a developer uses it, including `serve` from start to Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import ROOT, TEST_SECRET

CLI = [sys.executable, "-m", "api.cli"]


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, env=env or os.environ, capture_output=True, text=True, timeout=60)


def test_token_mints_what_the_api_verifies(services):
    out = _run("token", "--tenant", "linshu", "--role", "tenant_admin", "--role", "supervisor",
               "--scope", "street:31/street_officer", "--user", "u-7")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"], audience="civicgrid-api")
    assert (claims["tenant"], claims["roles"], claims["scope"], claims["sub"]) == (
        "linshu", ["tenant_admin", "supervisor"], ["street:31/street_officer"], "u-7"
    )
    assert _run("token", "--tenant", "linshu", "--role", "emperor").returncode != 0
    bad_scope = _run("token", "--tenant", "linshu", "--role", "resident", "--scope", "planet:earth")
    assert bad_scope.returncode != 0 and "KIND:ID" in bad_scope.stderr + bad_scope.stdout


def test_export_schema_check_passes_on_the_committed_schema(services):
    assert _run("export-schema", "--check").returncode == 0


def test_worker_check_fails_without_a_running_worker(services):
    assert _run("worker", "--check").returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_serve(home: Path, port: int) -> tuple[subprocess.Popen, str, str, list[str]]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CIVICGRID_JWT_SECRET", "CIVICGRID_ENV"}}
    env.update(CIVICGRID_HOME=str(home), COLUMNS="200")
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    tokens = []
    while time.monotonic() < deadline and len(tokens) < 2:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        tokens += re.findall(r"Bearer ([\w.-]+)", line)
    assert len(tokens) == 2, "".join(lines)
    return proc, tokens[0], tokens[1], lines


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return out


def _leftovers(home: Path) -> str:
    return subprocess.run(["pgrep", "-af", str(home)], capture_output=True, text=True).stdout


def test_serve_runs_everything_and_stops_everything(services, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "serve.env").write_text("left by an older version\n")  # mode 0644 under the usual umask
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc, admin, platform, lines = _start_serve(home, port)
    try:
        assert f"GraphiQL:  {base}/graphql" in "".join(lines)
        # serve.env holds the owner role's URL: only its owner reads it, like the signing secret.
        assert "DATABASE_OWNER_URL=" in (home / "serve.env").read_text()
        assert stat.S_IMODE((home / "serve.env").stat().st_mode) == 0o600
        assert stat.S_IMODE((home / "jwt_secret").stat().st_mode) == 0o600
        me = httpx.post(f"{base}/graphql", json={"query": "{ me { tenant { slug } } }"},
                        headers={"Authorization": f"Bearer {admin}"})
        assert me.json() == {"data": {"me": {"tenant": {"slug": "xiahuayuan"}}}}
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        created = httpx.post(
            f"{base}/graphql",
            json={"query": 'mutation { createTenant(input: {slug: "chengde", name: "承德市"}) { slug } }'},
            headers={"Authorization": f"Bearer {platform}"},
        )
        assert created.json() == {"data": {"createTenant": {"slug": "chengde"}}}
        # Another terminal finds the running services through CIVICGRID_HOME.
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL"}}
        env["CIVICGRID_HOME"] = str(home)
        assert _run("worker", "--check", env=env).returncode == 0
    finally:
        out = _stop(proc, signal.SIGINT)  # what Ctrl-C sends
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert _leftovers(home) == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz")

    # A second start reuses the data.
    proc, _, platform, _ = _start_serve(home, port)
    try:
        listed = httpx.post(f"{base}/graphql", json={"query": "{ tenants(first: 10) { edges { node { slug } } } }"},
                            headers={"Authorization": f"Bearer {platform}"})
        slugs = [e["node"]["slug"] for e in listed.json()["data"]["tenants"]["edges"]]
        from tenants.tenancy.demo import DEMO_TENANTS

        assert slugs == [t[0] for t in DEMO_TENANTS] + ["chengde"]
    finally:
        _stop(proc)
    assert _leftovers(home) == ""


async def test_import_territory_command(three_tenants, tmp_path: Path):
    from tests.test_import import GOOD

    good = tmp_path / "territory.csv"
    good.write_text(GOOD)
    dry = _run("import", "territory", str(good), "--tenant", "linshu", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing written" in dry.stdout and "'household': 3" in dry.stdout
    done = _run("import", "territory", str(good), "--tenant", "linshu")
    assert done.returncode == 0 and "imported" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "XH01,宣化街道,C01,,G01,,K 9,,,,,,,,,\n")
    failed = _run("import", "territory", str(bad), "--tenant", "linshu")
    assert failed.returncode == 1
    assert "row 6, compound_code" in failed.stdout and "nothing imported" in failed.stdout
    assert _run("import", "territory", str(good), "--tenant", "atlantis").returncode != 0


async def test_token_for_a_person_carries_their_posts(app):
    from tenants.tenancy.demo import seed_demo

    users = await seed_demo()
    street = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "street")
    out = _run("token", "--tenant", "xiahuayuan", "--person", "xiahuayuan-street")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"], audience="civicgrid-api")
    assert (claims["sub"], claims["roles"], claims["scope"]) == (
        "xiahuayuan-street", ["street_officer"], list(street.claims.scope)
    )
    assert _run("token", "--tenant", "xiahuayuan", "--person", "nobody").returncode == 2


def test_token_needs_a_role_or_a_person(services):
    assert _run("token", "--tenant", "linshu").returncode != 0
    assert _run("token", "--person", "x").returncode != 0


async def test_demo_bonds_are_paid_in_once_where_bonds_are_on(app):
    from tenants.bonds.models import BondTransaction
    from tenants.bonds.reads import required_fen
    from tenants.ledger import accounts
    from tenants.ledger.service import balance, verify
    from tenants.scope import tenant_transaction
    from tenants.tenancy.demo import seed_demo
    from tenants.tenancy.service import get_tenant_by_slug
    from tenants.territory.parties import PropertyContract

    await seed_demo()
    await seed_demo()
    linshu, xiahuayuan = await get_tenant_by_slug("linshu"), await get_tenant_by_slug("xiahuayuan")
    async with tenant_transaction(linshu.id):
        contracts = await PropertyContract.all()
        assert contracts and await BondTransaction.all().count() == len(contracts)
        for c in contracts:  # 临沭: 5% of the year's fee receivable
            assert await balance(accounts.bond(c.id)) == required_fen(c.annual_fee_fen, 5) > 0
        assert await verify() == []
    async with tenant_transaction(xiahuayuan.id):
        assert await BondTransaction.all().count() == 0  # bonds are off in 下花园区
