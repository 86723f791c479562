"""Withdrawing (or replacing) a scheduled configuration version before it takes effect."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from asyncpg.exceptions import RaiseError
from tortoise.exceptions import OperationalError

from tenants.config.models import ConfigVersion
from tenants.db import connect
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tests.conftest import codes
from tests.fixtures.cli import run_cli
from tests.fixtures.config import CHANGE, today, values

WITHDRAW = """mutation($no: Int!, $reason: String!) { withdrawConfigVersion(versionNo: $no, reason: $reason)
  { versionNo effectiveFrom withdrawnAt withdrawnBy withdrawalReason replacedBy } }"""
REPLACE = """mutation($set: JSON, $from: Date, $replaces: Int) {
  changeConfig(input: {set: $set, effectiveFrom: $from, replaces: $replaces, comment: "改期"})
  { versionNo effectiveFrom overrides } }"""
VERSIONS = "{ configVersions { edges { node { versionNo withdrawnAt replacedBy } } } }"


def in_days(n: int) -> str:
    """A tenant-local day from today (Asia/Shanghai), whatever the server's hour."""
    return (date.fromisoformat(today()) + timedelta(days=n)).isoformat()


async def _schedule(gql, admin, ratio: int, days: int) -> int:
    body = await gql(CHANGE, admin, {"set": {"bonds": {"ratio_percent": ratio}}, "from": in_days(days),
                                     "comment": f"{days} 天后保证金比例 {ratio}%"})
    assert "errors" not in body, body
    return body["data"]["changeConfig"]["versionNo"]


def problems(body: dict) -> set[tuple[str, str]]:
    return {(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]}


async def test_a_withdrawn_version_never_applies_and_stays_in_the_history(cities, gql, token):
    admin = token("linshu", user_id="admin-1")
    assert await _schedule(gql, admin, 8, 30) == 2  # 临沭: 5 % today, 8 % in 30 days
    assert await values(gql, admin, "bonds.ratio_percent", on=in_days(30)) == {"bonds.ratio_percent": (8, "linshu")}
    body = await gql(WITHDRAW, admin, {"no": 2, "reason": "财政未批复"})
    got = body["data"]["withdrawConfigVersion"]
    assert (got["versionNo"], got["withdrawnBy"], got["withdrawalReason"], got["replacedBy"]) == (
        2, "admin-1", "财政未批复", None)
    assert got["withdrawnAt"] is not None
    # In 30 days (and later) version 1 stays in force: 5 %.
    eff = await gql("query($on: Date) { effectiveConfig(on: $on) { versions { tenant versionNo } } }", admin,
                    {"on": in_days(30)})
    assert eff["data"]["effectiveConfig"]["versions"] == [{"tenant": "linshu", "versionNo": 1}]
    assert await values(gql, admin, "bonds.ratio_percent", on=in_days(30)) == {"bonds.ratio_percent": (5, "linshu")}
    listed = (await gql(VERSIONS, admin))["data"]["configVersions"]["edges"]
    assert [(e["node"]["versionNo"], e["node"]["withdrawnAt"] is not None) for e in listed] == [(2, True), (1, False)]
    audit = await gql('{ auditLog(targetType: "config_version", targetId: "2") { edges { node { action actor'
                      " details } } } }", admin)
    actions = [e["node"] for e in audit["data"]["auditLog"]["edges"]]
    assert [a["action"] for a in actions] == ["config.withdraw", "config.change"]
    assert actions[0]["details"] == {"effectiveFrom": in_days(30), "reason": "财政未批复", "replacedBy": None}
    # The withdrawn version no longer blocks an earlier one; numbers go on (3), never reusing 2.
    body = await gql(CHANGE, admin, {"set": {"bonds": {"ratio_percent": 6}}, "from": in_days(10), "comment": "6%"})
    assert body["data"]["changeConfig"]["versionNo"] == 3
    assert await values(gql, admin, "bonds.ratio_percent", on=in_days(30)) == {"bonds.ratio_percent": (6, "linshu")}


async def test_a_version_in_force_cannot_be_withdrawn(cities, gql, token):
    admin = token("linshu")
    # Version 1 (the preset, from 2000-01-01) and a version from today are in force.
    body = await gql(WITHDRAW, admin, {"no": 1, "reason": ""})
    assert problems(body) == {("versionNo", "in_force"), ("reason", "required")}
    assert await _schedule(gql, admin, 6, 0) == 2
    assert problems(await gql(WITHDRAW, admin, {"no": 2, "reason": "x"})) == {("versionNo", "in_force")}
    # Scheduled ones: only the latest, and once.
    assert await _schedule(gql, admin, 7, 20) == 3
    assert await _schedule(gql, admin, 8, 40) == 4
    assert problems(await gql(WITHDRAW, admin, {"no": 3, "reason": "x"})) == {("versionNo", "later_scheduled")}
    assert "errors" not in await gql(WITHDRAW, admin, {"no": 4, "reason": "x"})
    assert problems(await gql(WITHDRAW, admin, {"no": 4, "reason": "x"})) == {("versionNo", "already_withdrawn")}
    assert "errors" not in await gql(WITHDRAW, admin, {"no": 3, "reason": "x"})
    assert codes(await gql(WITHDRAW, admin, {"no": 9, "reason": "x"})) == ["NOT_FOUND"]
    assert codes(await gql(WITHDRAW, token("linshu", Role.STREET_OFFICER), {"no": 3, "reason": "x"})) == ["FORBIDDEN"]
    assert await values(gql, admin, "bonds.ratio_percent", on=in_days(40)) == {"bonds.ratio_percent": (6, "linshu")}


async def test_a_scheduled_version_is_replaced_in_one_step(cities, gql, token):
    admin = token("linshu")
    await _schedule(gql, admin, 8, 30)
    # Moved 20 days earlier and amended: set applies to the replaced version (8 %), not to version 1.
    body = await gql(REPLACE, admin, {"set": {"bonds": {"top_up_deadline_days": 20}}, "from": in_days(10),
                                      "replaces": 2})
    new = body["data"]["changeConfig"]
    assert (new["versionNo"], new["effectiveFrom"]) == (3, in_days(10))
    assert new["overrides"]["bonds"]["ratio_percent"] == 8 and new["overrides"]["bonds"]["top_up_deadline_days"] == 20
    listed = (await gql(VERSIONS, admin))["data"]["configVersions"]["edges"]
    assert [(e["node"]["versionNo"], e["node"]["replacedBy"]) for e in listed] == [(3, None), (2, 3), (1, None)]
    assert await values(gql, admin, "bonds.ratio_percent", on=in_days(10)) == {"bonds.ratio_percent": (8, "linshu")}
    # A version in force cannot be replaced; nothing is saved.
    body = await gql(REPLACE, admin, {"set": {}, "from": in_days(50), "replaces": 1})
    assert ("replaces", "in_force") in problems(body)
    async with tenant_transaction(cities[2].id):
        assert await ConfigVersion.all().count() == 3


async def test_withdrawing_a_city_version_that_a_district_builds_on_is_refused(cities, gql, token):
    city, district = token("zhangjiakou"), token("xiahuayuan")
    cap = "subsidies.brand_projects.per_project_cap_fen"
    # In 30 days 张家口 raises the brand projects' yearly cap from 5,280,000 to 6,000,000 CNY; from day 40
    # 下花园区 allows 5,500,000 CNY for one project, more than the old cap but within the new one.
    body = await gql(CHANGE, city, {"set": {"subsidies": {"brand_projects": {"yearly_cap_fen": 600_000_000}}},
                                    "from": in_days(30), "comment": "提高品牌项目总额"})
    assert body["data"]["changeConfig"]["versionNo"] == 2
    body = await gql(CHANGE, district, {"set": {"subsidies": {"brand_projects": {"per_project_cap_fen": 550_000_000}}},
                                        "from": in_days(40), "comment": "单个项目上限"})
    assert body["data"]["changeConfig"]["versionNo"] == 2
    # Withdrawing the city's version would leave 550,000,000 > 528,000,000 in 下花园区 from day 40.
    refused = await gql(WITHDRAW, city, {"no": 2, "reason": "x"})
    assert problems(refused) == {(f"children.xiahuayuan.{cap}", "cap_order")}
    assert f"(from {in_days(40)})" in refused["errors"][0]["extensions"]["problems"][0]["messageEn"]
    assert await values(gql, district, cap, on=in_days(40)) == {cap: (550_000_000, "xiahuayuan")}
    # Once the district withdraws its own, the city may withdraw its version.
    assert "errors" not in await gql(WITHDRAW, district, {"no": 2, "reason": "随市撤回"})
    assert "errors" not in await gql(WITHDRAW, city, {"no": 2, "reason": "预算未批"})
    yearly = "subsidies.brand_projects.yearly_cap_fen"
    assert await values(gql, district, yearly, on=in_days(40)) == {yearly: (528_000_000, "zhangjiakou")}


async def test_versions_are_immutable_in_the_database(cities, gql, token, services):
    admin = token("linshu")
    await _schedule(gql, admin, 8, 30)
    linshu = cities[2]
    async with tenant_transaction(linshu.id) as conn:
        with pytest.raises(OperationalError, match="permission denied"):
            await conn.execute_query("UPDATE config_version SET overrides = '{}' WHERE version_no = 2")
    async with tenant_transaction(linshu.id) as conn:
        with pytest.raises(OperationalError, match="permission denied"):
            await conn.execute_query("DELETE FROM config_version WHERE version_no = 2")
    async with tenant_transaction(linshu.id) as conn:  # the withdrawal columns, but for a version in force
        with pytest.raises(RaiseError, match="in force since 2000-01-01"):
            await conn.execute_query("UPDATE config_version SET withdrawn_at = now(), withdrawn_by = 'x',"
                                     " withdrawal_reason = 'x' WHERE version_no = 1")
    assert "errors" not in await gql(WITHDRAW, admin, {"no": 2, "reason": "x"})
    async with tenant_transaction(linshu.id) as conn:  # un-withdrawing
        with pytest.raises(RaiseError, match="is withdrawn and cannot change"):
            await conn.execute_query("UPDATE config_version SET withdrawn_at = NULL WHERE version_no = 2")
    owner = await connect(services.owner_url)  # the trigger binds the owner too
    try:
        with pytest.raises(RaiseError, match="cannot be deleted"):
            await owner.execute("DELETE FROM config_version WHERE tenant_id = $1", linshu.id)
    finally:
        await owner.close()


async def test_a_tenant_withdraws_only_its_own_versions(cities, gql, token):
    city, district = token("zhangjiakou"), token("xiahuayuan")
    body = await gql(CHANGE, city, {"set": {"tickets": {"review_dispatch_sla_hours": 2}}, "from": in_days(30),
                                    "comment": "提速"})
    assert body["data"]["changeConfig"]["versionNo"] == 2
    # 下花园区 reads its city's version 2 (inheritance) but has no version 2 of its own; 临沭 neither.
    for other in (district, token("linshu")):
        assert codes(await gql(WITHDRAW, other, {"no": 2, "reason": "x"})) == ["NOT_FOUND"]
    assert await values(gql, district, "tickets.review_dispatch_sla_hours", on=in_days(30)) == {
        "tickets.review_dispatch_sla_hours": (2, "zhangjiakou")}


async def test_cli_withdraws_a_scheduled_version(cities, gql, token):
    await _schedule(gql, token("linshu"), 8, 30)
    refused = run_cli("tenant", "config", "withdraw", "1", "--tenant", "linshu", "--reason", "x")
    assert refused.returncode == 1 and "in force since 2000-01-01" in refused.stdout
    done = run_cli("tenant", "config", "withdraw", "2", "--tenant", "linshu", "--reason", "财政未批复")
    assert done.returncode == 0 and f"version 2 of linshu (from {in_days(30)}) withdrawn" in done.stdout
