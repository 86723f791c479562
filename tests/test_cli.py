"""The civicgrid command as a developer uses it, including `serve` from start to Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import jwt
import pytest

from api.embedded import free_port
from tests.conftest import ROOT, TEST_SECRET
from tests.fixtures.cli import CLI, run_cli
from tests.fixtures.territory import IMPORT_GOOD


async def test_token_mints_what_the_api_verifies(three_tenants):
    out = run_cli("token", "--tenant", "linshu", "--role", "tenant_admin", "--role", "supervisor",
               "--scope", "street:31/street_officer", "--user", "u-7")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"], audience="civicgrid-api")
    assert (claims["tenant"], claims["roles"], claims["scope"], claims["sub"]) == (
        "linshu", ["tenant_admin", "supervisor"], ["street:31/street_officer"], "u-7"
    )
    assert run_cli("token", "--tenant", "linshu", "--role", "emperor").returncode != 0
    bad_scope = run_cli("token", "--tenant", "linshu", "--role", "resident", "--scope", "planet:earth")
    assert bad_scope.returncode != 0 and "KIND:ID" in bad_scope.stderr + bad_scope.stdout
    nowhere = run_cli("token", "--tenant", "atlantis", "--role", "tenant_admin")
    assert (nowhere.returncode, nowhere.stdout, nowhere.stderr) == (2, "", "没有租户 atlantis / no tenant atlantis\n")


def _without_serve(home: Path) -> dict[str, str]:
    """Another terminal's environment: no secret and no service URLs, only CIVICGRID_HOME."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CIVICGRID_JWT_SECRET"}}
    env["CIVICGRID_HOME"] = str(home)
    return env


def test_token_refuses_without_a_running_serve(services, tmp_path: Path):
    home = tmp_path / "home"
    env = _without_serve(home)
    refused = run_cli("token", "--role", "platform_admin", env=env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("没有找到正在运行的 civicgrid serve") and "Traceback" not in refused.stderr
    assert not (home / "jwt_secret").exists()  # no new secret that no server knows
    # A serve that was killed leaves its serve.env and secret behind: its process is gone, so still refused.
    gone = subprocess.Popen(["true"])
    gone.wait()
    home.mkdir()
    (home / "jwt_secret").write_text("s" * 48)
    (home / "serve.env").write_text(f"DATABASE_URL={services.app_url}\nCIVICGRID_SERVE_PID={gone.pid}\n")
    assert run_cli("token", "--role", "platform_admin", env=env).returncode == 1
    # A running one (this test process stands in for it): its secret signs, its database knows the tenants.
    (home / "serve.env").write_text(f"DATABASE_URL={services.app_url}\nCIVICGRID_SERVE_PID={os.getpid()}\n")
    minted = run_cli("token", "--role", "platform_admin", env=env)
    assert minted.returncode == 0, minted.stderr
    assert jwt.decode(minted.stdout.strip(), "s" * 48, algorithms=["HS256"], audience="civicgrid-api")["roles"] == [
        "platform_admin"
    ]
    unknown = run_cli("token", "--tenant", "linshu", "--role", "tenant_admin", env=env)
    assert (unknown.returncode, unknown.stderr) == (2, "没有租户 linshu / no tenant linshu\n")


def test_serve_on_a_busy_port_says_so_in_one_line(services, tmp_path: Path):
    home = tmp_path / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _without_serve(home)
        env["COLUMNS"] = "60"  # a narrow terminal must not break the line
        out = run_cli("serve", "--port", str(port), env=env)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"端口 {port} 已被占用（127.0.0.1）：请用 --port 换一个端口（make run PORT=8001） / "
        f"port {port} on 127.0.0.1 is already in use: choose another with --port (make run PORT=8001)"
    ]
    assert not (home / "pg").exists()  # refused before starting anything


def test_a_broken_toml_file_is_one_line(services, tmp_path: Path):
    broken = tmp_path / "xuanhua.toml"
    broken.write_text('[assessment]\ncadence = "quarterly\n')
    out = run_cli("tenant", "config", "import", str(broken), "--tenant", "xuanhua")
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    [line] = out.stderr.splitlines()
    assert line.startswith(f"{broken} 不是有效的 TOML 文件（第 2 行第 ") and "is not valid TOML" in line


def test_export_schema_check_passes_on_the_committed_schema(services):
    assert run_cli("export-schema", "--check").returncode == 0


def test_worker_check_fails_without_a_running_worker(services):
    assert run_cli("worker", "--check").returncode != 0



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
    port = free_port()
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
        assert run_cli("worker", "--check", env=env).returncode == 0
        # ... and mints tokens with the running serve's secret, which the server accepts.
        minted = run_cli("token", "--tenant", "linshu", "--role", "tenant_admin", env=_without_serve(home))
        assert minted.returncode == 0, minted.stderr
        me = httpx.post(f"{base}/graphql", json={"query": "{ me { tenant { slug } } }"},
                        headers={"Authorization": f"Bearer {minted.stdout.strip()}"})
        assert me.json() == {"data": {"me": {"tenant": {"slug": "linshu"}}}}
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
        from tenants.demo.seed import DEMO_TENANTS

        assert slugs == [t[0] for t in DEMO_TENANTS] + ["chengde"]
    finally:
        _stop(proc)
    assert _leftovers(home) == ""


async def test_import_territory_command(three_tenants, tmp_path: Path):
    good = tmp_path / "territory.csv"
    good.write_text(IMPORT_GOOD)
    dry = run_cli("import", "territory", str(good), "--tenant", "linshu", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing written" in dry.stdout and "{" not in dry.stdout  # counts, not Python dicts
    assert ("新建 created:   街道 street 2, 社区 community 2, 网格 grid 2, 小区 compound 2, 楼栋 building 2, "
            "户 household 3, 物业企业 company 1, 合同 contract 1") in dry.stdout.splitlines()
    done = run_cli("import", "territory", str(good), "--tenant", "linshu")
    assert done.returncode == 0 and "imported" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(IMPORT_GOOD + "XH01,宣化街道,C01,,G01,,K 9,,,,,,,,,\n")
    failed = run_cli("import", "territory", str(bad), "--tenant", "linshu")
    assert failed.returncode == 1
    assert "第 6 行 compound_code：" in failed.stdout and "row 6, compound_code" in failed.stdout
    assert "未导入任何数据 / 1 problems: nothing imported" in failed.stdout
    assert run_cli("import", "territory", str(good), "--tenant", "atlantis").returncode != 0
    old_excel = tmp_path / "户籍.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    refused = run_cli("import", "territory", str(old_excel), "--tenant", "linshu")
    assert refused.returncode == 1 and "Traceback" not in refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [
        "户籍.xls：不支持旧版 Excel（.xls）文件：请在 Excel 中另存为 .xlsx 或 CSV（UTF-8）后再导入 / 户籍.xls: old "
        "Excel (.xls) files are not supported: save the sheet as .xlsx or CSV (UTF-8) and import that"
    ]
    titled = tmp_path / "titled.xlsx"
    from openpyxl import Workbook

    header = ["街道编码", "社区编码", "网格编码", "小区编码", "统一社会信用代码", "物业企业", "合同开始日期",
              "合同结束日期"]
    book = Workbook()
    book.active.append(["临沭县小区台账"])  # a title row above the header
    book.active.append(header)
    book.active.append(["LS01", "C1", "G1", "HF", "9137A", "华丰物业", "2026/13/1", "2026/12/31"])
    book.save(titled)
    bad_date = run_cli("import", "territory", str(titled), "--tenant", "linshu")
    assert bad_date.returncode == 1 and "Traceback" not in bad_date.stdout + bad_date.stderr
    assert "第 3 行 合同开始日期：" in bad_date.stdout  # the column as the file names it
    book = Workbook()
    book.active.append([h for h in header if h != "社区编码"])
    book.active.append(["LS01", "G1", "HF", "9137A", "华丰物业", "2026/1/1", "2026/12/31"])
    book.save(titled)
    lacking = run_cli("import", "territory", str(titled), "--tenant", "linshu")
    assert "第 2 行 社区编码：" in lacking.stdout  # and one it lacks, in the file's language


async def test_token_for_a_person_carries_their_posts(app):
    from tenants.demo.seed import seed_demo

    users = await seed_demo()
    street = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "street")
    out = run_cli("token", "--tenant", "xiahuayuan", "--person", "xiahuayuan-street")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"], audience="civicgrid-api")
    assert (claims["sub"], claims["roles"], claims["scope"]) == (
        "xiahuayuan-street", ["street_officer"], list(street.claims.scope)
    )
    assert run_cli("token", "--tenant", "xiahuayuan", "--person", "nobody").returncode == 2


def test_token_needs_a_role_or_a_person(services):
    assert run_cli("token", "--tenant", "linshu").returncode != 0
    assert run_cli("token", "--person", "x").returncode != 0


async def test_demo_bonds_are_paid_in_once_where_bonds_are_on(app):
    from tenants.bonds.models import BondTransaction
    from tenants.bonds.reads import required_fen
    from tenants.demo.seed import seed_demo
    from tenants.ledger import accounts
    from tenants.ledger.service import balance, verify
    from tenants.scope import tenant_transaction
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
    # Seeded twice, each demo tenant with joint meetings on has one meeting and its decision, and every contract
    # names its firm's manager once.
    from tenants.meetings.models import Decision, Meeting
    from tenants.territory.parties import ContractManager, PropertyManager

    async with tenant_transaction(linshu.id):
        assert await Meeting.all().count() == 1 and await Decision.all().count() == 1
        firms = set(await PropertyContract.all().values_list("company_id", flat=True))
        assert await PropertyManager.all().count() == len(firms)
        assert await ContractManager.all().count() == len(contracts)


def test_serve_that_cannot_start_its_database_says_why_in_one_line(services, tmp_path: Path):
    home = tmp_path / "home"
    home.write_text("not a directory")  # CIVICGRID_HOME pointing at a file
    out = run_cli("serve", "--port", str(free_port()), env={**_without_serve(home), "COLUMNS": "60"})
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    [line] = out.stderr.splitlines()
    assert line.startswith("civicgrid serve 启动失败：") and str(home) in line


async def test_demo_counties_have_the_departments_their_matrix_names(app):
    """临沭's 城市内涝 item is acted on by the 水务 department with 城管 helping: the demo has both, so a demo
    ticket of that item is dispatched to 水务 and 城管 gets its partner task."""
    from tenants.demo.seed import ADMIN, seed_demo
    from tenants.scope import tenant_transaction
    from tenants.tenancy.service import get_tenant_by_slug
    from tenants.territory.models import Compound
    from tenants.territory.parties import Unit
    from tenants.tickets import intake, workflow
    from tenants.tickets.models import PartnerTask

    await seed_demo()
    await seed_demo()  # once only
    linshu = await get_tenant_by_slug("linshu")
    async with tenant_transaction(linshu.id):
        units = {u.code: u for u in await Unit.all()}
        assert {"城管", "水务", "住建", "效能办"} <= set(units) and len(units) == 4
        compound = await Compound.all().order_by("id").first()
        ticket = await intake.report(access=ADMIN, actor="hotline", item_code="urban_waterlogging",
                                      description="小区门口积水", compound_id=compound.id)
        ticket = await workflow.dispatch(access=ADMIN, actor="admin", ticket_id=ticket.id)
        assert (ticket.assignee_kind.value, ticket.assignee_id) == ("county_department", units["水务"].id)
        helpers = await PartnerTask.filter(ticket_id=ticket.id).values_list("unit_kind", "unit_id")
        assert ("county_department", units["城管"].id) in {(k.value, i) for k, i in helpers}
