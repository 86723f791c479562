"""Configuration documents stored under an earlier schema are read with today's: missing fields get defaults."""

from __future__ import annotations

import json

import pytest

from tenants.config.merge import effective
from tenants.config.upgrade import preset_body_roles, upgrade
from tenants.db import connect
from tenants.errors import InvalidInput
from tenants.presets import load_preset, preset_names
from tenants.tenancy.service import create_tenant
from tests.conftest import codes

EFFECTIVE = """query($prefix: String) { effectiveConfig { values(prefix: $prefix) { path value source } } }"""
CHANGE = """mutation($set: JSON) { changeConfig(input: {set: $set, comment: "升级后修改"}) { versionNo } }"""


def before_roles(document: dict) -> dict:
    """``document`` as stored before bodies named their roles (fa0643b) and before company_combination (f1b8049)."""
    old = json.loads(json.dumps(document))
    assessment = old.get("assessment", {})
    assessment.pop("company_combination", None)
    for body in assessment.get("bodies", {}).values():
        body.pop("roles", None)
    return old


async def store_as_before(services, slug: str) -> None:
    """Rewrite the tenant's stored versions as a data directory of the earlier schema holds them (as the owner,
    past the triggers that keep versions immutable)."""
    conn = await connect(services.owner_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            rows = await conn.fetch(
                "SELECT v.id, v.overrides FROM config_version v JOIN tenant t ON t.id = v.tenant_id WHERE t.slug = $1",
                slug,
            )
            for row in rows:
                await conn.execute("UPDATE config_version SET overrides = $2::jsonb WHERE id = $1", row["id"],
                                   json.dumps(before_roles(json.loads(row["overrides"])), ensure_ascii=False))
    finally:
        await conn.close()


async def values(gql, token, prefix: str) -> dict:
    body = await gql(EFFECTIVE, token, {"prefix": prefix})
    assert "errors" not in body, body
    return {v["path"]: (v["value"], v["source"]) for v in body["data"]["effectiveConfig"]["values"]}


async def test_a_city_and_its_district_stored_before_roles_existed_are_read_and_changed(app, services, gql, token):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou", preset="xiahuayuan")
    await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    await store_as_before(services, "zhangjiakou")
    await store_as_before(services, "xiahuayuan")

    city = await values(gql, token("zhangjiakou"), "assessment")
    # The preset's bodies of the same code: 党组织 street officers and community workers, 业委会, 住建部门.
    assert city["assessment.bodies.party_org.roles"] == (["street_officer", "community_worker"], "default")
    assert city["assessment.bodies.owners_committee.roles"] == (["owners_committee"], "default")
    assert city["assessment.bodies.housing_dept.roles"] == (["housing_dept"], "default")
    assert city["assessment.company_combination"] == ("fee_receivable", "default")
    assert city["assessment.bodies.party_org.weight"] == (40, "zhangjiakou")  # what was stored stays

    district = await values(gql, token("xiahuayuan"), "assessment.bodies")
    assert district["assessment.bodies.party_org.weight"] == (70, "xiahuayuan")  # its re-weighting still holds
    assert district["assessment.bodies.party_org.roles"] == (["street_officer", "community_worker"], "default")

    # A change on top of the old document is checked and stored (it failed with "roles is required" before).
    body = await gql(CHANGE, token("zhangjiakou"), {"set": {"tickets": {"review_dispatch_sla_hours": 4}}})
    assert "errors" not in body, body
    assert body["data"]["changeConfig"]["versionNo"] == 2

    # The other tenant, stored under today's schema, keeps its own values and sources.
    other = await values(gql, token("linshu"), "assessment.bodies.community_party_org.roles")
    assert other == {"assessment.bodies.community_party_org.roles": (["community_worker"], "linshu")}


async def test_a_body_no_preset_knows_still_needs_its_roles(app, gql, token):
    document = before_roles(load_preset("zhangjiakou").overrides)
    document["assessment"]["bodies"]["street_office"] = document["assessment"]["bodies"].pop("housing_dept")
    for line in document["assessment"]["rubric"]:
        line["body"] = "street_office" if line["body"] == "housing_dept" else line["body"]
    with pytest.raises(InvalidInput) as exc:
        effective([("zhangjiakou", document)])
    assert [(p.field, p.reason) for p in exc.value.problems] == [("assessment.bodies.street_office.roles", "required")]
    await create_tenant(slug="linshu", name="临沭县", preset="linshu")  # a GraphQL error is still a typed one
    new_body = {"assessment": {"bodies": {"new_body": {"title": "新", "weight": 0}}}}
    bad = await gql(CHANGE, token("linshu"), {"set": new_body})
    assert codes(bad) == ["INVALID_INPUT"]


def test_upgrade_fills_only_what_is_missing_and_presets_agree_on_each_body():
    stored = before_roles(load_preset("linshu").overrides)
    stored["assessment"]["bodies"]["owners_committee"]["roles"] = ["community_worker"]  # set by the tenant
    upgraded, filled = upgrade(stored)
    assert filled == ["assessment.company_combination", "assessment.bodies.community_party_org.roles",
                      "assessment.bodies.street_party_org.roles"]
    assert upgraded["assessment"]["bodies"]["owners_committee"]["roles"] == ["community_worker"]
    assert "roles" not in stored["assessment"]["bodies"]["street_party_org"]  # the stored document is untouched
    for name in preset_names():
        for code, body in load_preset(name).overrides.get("assessment", {}).get("bodies", {}).items():
            if "roles" in body:
                assert body["roles"] == preset_body_roles()[code], (name, code)
