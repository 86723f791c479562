"""Days are the tenant's days: at 17:30 UTC it is 01:30 the next day in Beijing, and "today" means Beijing's."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta

import jwt
import time_machine

from api.auth import mint_token
from tenants import clock
from tenants.assessment import rounds
from tenants.config.service import effective_config
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import parties_service as parties
from tenants.territory.access import resolve
from tests.conftest import ROOT, TEST_SECRET, clock_at
from tests.fixtures.callers import ADMIN
from tests.fixtures.cli import run_cli
from tests.fixtures.territory import build


def _late_evening_utc() -> datetime:
    """17:30 UTC on the suite's day: 01:30 of the next day in Beijing."""
    return datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=17, minutes=30)


def _calls_of_the_server_day(tree: ast.AST) -> list[tuple[int, str]]:
    """``date.today()``, ``datetime.today()``, ``datetime.utcnow()``, ``datetime.now(...)``, ``time.time()`` and
    ``clock.now().date()``: each is the server's day or clock, not the tenant's."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner, name = node.func.value, node.func.attr
        if isinstance(owner, ast.Name) and (owner.id, name) in {
            ("date", "today"), ("datetime", "today"), ("datetime", "utcnow"), ("datetime", "now"), ("time", "time")
        }:
            found.append((node.lineno, f"{owner.id}.{name}()"))
        if name == "date" and isinstance(owner, ast.Call) and ast.unparse(owner.func) == "clock.now":
            found.append((node.lineno, "clock.now().date()"))
    return found


def test_no_code_reads_the_server_day():
    offenders = []
    for package in ("tenants", "api", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "tenants" / "clock.py" or "migrations" in path.parts:
                continue
            for line, call in _calls_of_the_server_day(ast.parse(path.read_text(), str(path))):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {call}")
    assert offenders == [], "use tenants.clock (now, today, local_day) instead:\n" + "\n".join(offenders)


def test_the_lint_finds_each_kind_of_server_day():
    source = "date.today()\ndatetime.now(UTC).date()\ndatetime.utcnow()\nclock.now().date()\ntime.time()\n"
    assert sorted(line for line, _ in _calls_of_the_server_day(ast.parse(source))) == [1, 2, 3, 4, 5]
    assert _calls_of_the_server_day(ast.parse("await clock.today()\nclock.local_day(at, zone)\n")) == []


async def test_today_is_the_tenant_local_day(three_tenants):
    zhangjiakou = three_tenants[0]
    at = _late_evening_utc()
    with tenant_context(zhangjiakou.id), time_machine.travel(at, tick=False):
        assert await clock.today() == at.date() + timedelta(days=1)
        assert await clock.today(at - timedelta(hours=2)) == at.date()  # 15:30 UTC is 23:30 in Beijing


async def test_a_post_assigned_late_in_the_utc_day_starts_on_beijings_day_and_grants_at_once(
    three_tenants, gql, settings
):
    a = three_tenants[0]
    ids = await build(a.id)
    beijing_day = (_late_evening_utc() + timedelta(hours=8)).date()
    with clock_at(_late_evening_utc()):
        admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=a.slug)
        pid = (await gql('mutation { createPerson(input: {userId: "late-worker", name: "晚班网格员"}) { id } }',
                         admin))["data"]["createPerson"]["id"]
        post = await gql('mutation($p: ID!, $g: ID!) { assignPost(input: {personId: $p, kind: GRID_WORKER,'
                         ' targetKind: "grid", targetId: $g}) { startsOn } }', admin, {"p": pid, "g": str(ids["G1"])})
        assert post["data"]["assignPost"]["startsOn"] == beijing_day.isoformat()
        # The CLI (a subprocess on the same clock) finds the post active today, so it mints the grid worker's token.
        out = run_cli("token", "--tenant", a.slug, "--person", "late-worker")
        assert out.returncode == 0, out.stdout + out.stderr
        claims = jwt.decode(out.stdout.strip(), TEST_SECRET, algorithms=["HS256"], audience="civicgrid-api")
        assert claims["roles"] == ["grid_worker"] and claims["scope"] == [f"grid:{ids['G1']}/grid_worker"]
        # Ended without a date, the post ends on Beijing's day too.
        posts = await gql('{ persons(userId: "late-worker") { edges { node { posts { id } } } } }', admin)
        post_id = posts["data"]["persons"]["edges"][0]["node"]["posts"][0]["id"]
        ended = await gql("mutation($id: ID!) { endPost(id: $id) { endsOn } }", admin, {"id": post_id})
        assert ended["data"]["endPost"]["endsOn"] == beijing_day.isoformat()


async def test_a_contract_starting_today_in_beijing_shows_its_compound_to_the_company(three_tenants, gql, settings):
    a = three_tenants[0]
    ids = await build(a.id)
    beijing_day = (_late_evening_utc() + timedelta(hours=8)).date()
    with tenant_context(a.id):
        await parties.create_contract(access=ADMIN, actor="seed", company_id=ids["P1"],
                                      compound_id=ids["K2"], starts_on=beijing_day,
                                      ends_on=beijing_day + timedelta(days=365), annual_fee_fen=100)
    with clock_at(_late_evening_utc()):
        company = mint_token(settings, roles=[Role.PROPERTY_COMPANY], tenant_slug=a.slug,
                             scope=(f"company:{ids['P1']}",))
        areas = await gql("{ areas(level: COMPOUND) { edges { node { code } } } }", company)
        assert [e["node"]["code"] for e in areas["data"]["areas"]["edges"]] == ["K1", "K2"]
        contracts = await gql("{ propertyContracts { edges { node { compound { code } } } } }", company)
        assert sorted(e["node"]["compound"]["code"] for e in contracts["data"]["propertyContracts"]["edges"]) == [
            "K1", "K2"
        ]


async def test_an_assessor_post_starting_today_in_beijing_grants_its_body(three_tenants, gql, settings):
    from tenants.tenancy.service import create_tenant
    from tenants.territory import people_service as people

    city = await create_tenant(slug="zjk", name="张家口市", preset="zhangjiakou")
    ids = await build(city.id)
    beijing_day = (_late_evening_utc() + timedelta(hours=8)).date()
    with clock_at(_late_evening_utc()):
        async with tenant_transaction(city.id):
            person = await people.create_person(access=ADMIN, actor="seed", user_id="assessor-late",
                                                name="评议员")
            post = await people.assign_post(access=ADMIN, actor="seed", person_id=person.id,
                                            kind=people.PostKind.ASSESSOR, target_kind="compound",
                                            target_id=ids["K1"], body_code="owners_committee")
            assert post.starts_on == beijing_day
            access = await resolve(frozenset({Role.ASSESSOR}), (), "assessor-late")
            granted = await rounds.grants(access, (await effective_config()).document)
        assert granted == [rounds.BodyGrant("owners_committee", "compound", ids["K1"])]
