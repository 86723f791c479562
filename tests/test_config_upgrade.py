"""Configuration documents carry their schema version: a data directory of the previous schema is upgraded by its
migration and starts with the current code; a document of a newer schema is refused for its tenant only; a change
to the document's schema without its own upgrade step and migration fails here."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator

import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate

from api.embedded import EmbeddedServices
from tenants import backup
from tenants.config.document import ConfigDocument
from tenants.config.merge import effective
from tenants.config.upgrade import (
    _V2_BODY_ROLES,
    _V2_ITEM,
    _V2_WHOLE,
    _V3_REDEMPTION,
    _V3_RULE,
    _V3_WHOLE,
    _V4_DUAL,
    _V5_RUBRIC_ITEM,
    _V5_WHOLE,
    SCHEMA_VERSION,
    STEPS,
    schema_fingerprint,
    upgrade_document,
)
from tenants.db import connect, ensure_app_role, tortoise_config
from tenants.errors import InvalidInput
from tenants.presets import load_preset, preset_names
from tenants.tenancy import cache as tenant_cache
from tenants.tenancy.service import create_tenant
from tests.conftest import ROOT, codes

EFFECTIVE = """query($prefix: String) { effectiveConfig { values(prefix: $prefix) { path value source } } }"""
CHANGE = """mutation($set: JSON) { changeConfig(input: {set: $set, comment: "升级后修改"}) { versionNo } }"""
PINNED = ROOT / "tests" / "config_schema.sha256"


def previous_schema(document: dict) -> dict:
    """``document`` as schema 1 stored it: none of the fields added since migration 0001 (where ``document`` holds
    them at the value that kept the behaviour from before they existed)."""
    old = copy.deepcopy(without_dual_fields(document))
    for path, default in _V3_WHOLE:
        if old.get(path[0], {}).get(path[1]) == default:
            del old[path[0]][path[1]]
    for name, defaults in (("earning_rules", _V3_RULE), ("redemptions", _V3_REDEMPTION)):
        for item in old.get("points", {}).get(name, []):
            for key, default in defaults:
                if item.get(key) == default:
                    del item[key]
    for path, default in _V2_WHOLE:
        node = old
        for key in path[:-1]:
            node = node.get(key, {})
        if node.get(path[-1]) == default:
            del node[path[-1]]
    for section in ("files", "open311"):
        if old.get(section) == {}:
            del old[section]
    for category in old.get("tickets", {}).get("taxonomy", []):
        for item in category["items"]:
            for key, default in _V2_ITEM:
                if item.get(key) == default:
                    del item[key]
    for code, body in old.get("assessment", {}).get("bodies", {}).items():
        if body.get("roles") == _V2_BODY_ROLES.get(code):
            body.pop("roles", None)
    return old


def without_meeting_fields(document: dict, *, whatever: bool = False) -> dict:
    """``document`` without the fields schema 5 added (issue 19) where it holds them at their upgrade value, or
    ``whatever`` their value (a document of schema 4 or before with one would not have validated)."""
    old = copy.deepcopy(document)
    for path, default in _V5_WHOLE:
        node = old.get(path[0], {}).get(path[1], {})
        if path[2] in node and (whatever or node[path[2]] == default):
            del node[path[2]]
    for item in old.get("assessment", {}).get("rubric", []):
        for key, default in _V5_RUBRIC_ITEM:
            if key in item and (whatever or item[key] == default):
                del item[key]
    return old


def without_dual_fields(document: dict) -> dict:
    """``document`` without the 双报到 fields schema 4 added where it holds them at their upgrade value (and none of
    schema 5's at theirs)."""
    old = without_meeting_fields(document)
    dual = old.get("party", {}).get("dual_registration", {})
    for key, default in _V4_DUAL:
        if dual.get(key) == default:
            del dual[key]
    return old


def schema_2(document: dict) -> dict:
    """``document`` as a release of schema 2 could have stored it: no points field of schema 3 at all (a schema-2
    document with one would not have validated), whatever the value."""
    old = without_meeting_fields(without_dual_fields(document), whatever=True)
    for section, key in (path for path, _ in _V3_WHOLE):
        old.get(section, {}).pop(key, None)
    points = old.get("points", {})
    for rule in points.get("earning_rules", []):
        rule.pop("on", None)
    if "redemptions" in points:
        points["redemptions"] = [{k: v for k, v in r.items() if k in ("code", "title", "kind", "cost_points",
                                                                     "value_fen")}
                                 for r in points["redemptions"] if r["kind"] in ("fee_reduction", "merchant",
                                                                                 "canteen")]
    return old


async def values(gql, token, prefix: str) -> dict:
    body = await gql(EFFECTIVE, token, {"prefix": prefix})
    assert "errors" not in body, body
    return {v["path"]: (v["value"], v["source"]) for v in body["data"]["effectiveConfig"]["values"]}


async def migrate_to(url: str, target: str | None = None) -> None:
    config = tortoise_config(url, pool_size=2)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await migrate(config=config, target=target)


@pytest.fixture
async def old_database(services: EmbeddedServices, tmp_path) -> AsyncIterator[tuple[str, str]]:
    """A second database of the session's cluster at the schema before 0023 (owner URL, application URL): today's
    empty schema through a backup (migrating a new database from 0001 takes 12 s), the documents' upgrades (0023,
    0026, 0030, 0035) taken back out."""
    name = "civicgrid_config_upgrade"
    services.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE); CREATE DATABASE "{name}";')
    owner = services.owner_url.replace(f"/{services.database}?", f"/{name}?")
    app_url = services.app_url.replace(f"/{services.database}?", f"/{name}?")
    await backup.backup(services.owner_url, tmp_path / "schema.dump")
    await backup.restore(owner, app_url, tmp_path / "schema.dump")
    conn = await connect(owner)
    try:
        await conn.execute("ALTER TABLE config_version DROP COLUMN schema_version;"
                           " DELETE FROM tortoise_migrations WHERE name IN ('0023_config_documents_upgrade',"
                           " '0026_config_points', '0030_dual_config', '0035_config_meetings')")
    finally:
        await conn.close()
    yield owner, app_url
    services.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')


async def test_a_data_directory_of_the_previous_schema_starts_with_the_current_code(app, old_database, gql, token):
    owner, app_url = old_database
    city, district, other = (load_preset(n).overrides for n in ("zhangjiakou", "xiahuayuan", "linshu"))
    conn = await connect(owner)  # the session's superuser: past row-level security, as a release before wrote it
    try:
        ids = {}
        made = (("zhangjiakou", "张家口市", None, city), ("xiahuayuan", "下花园区", "zhangjiakou", district),
                ("linshu", "临沭县", None, other))
        for slug, name, parent, doc in made:
            ids[slug] = await conn.fetchval(
                "INSERT INTO tenant (slug, name, parent_id, timezone, is_active, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'Asia/Shanghai', true, now(), now()) RETURNING id", slug, name, ids.get(parent))
            await conn.execute(
                "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment,"
                " created_at) VALUES ($1, 1, $2::jsonb, '1900-01-01', 'platform', 'preset', now())",
                ids[slug], json.dumps(previous_schema(doc), ensure_ascii=False))
    finally:
        await conn.close()
    await migrate_to(owner, "civicgrid.0023_config_documents_upgrade")
    # Schema 2's release stores a city and a district (whose own list of rules is whole) before schema 3 ships.
    sanbai = schema_2(load_preset("sanbai").overrides)
    rule = {k: v for k, v in load_preset("zhangjiakou").overrides["points"]["earning_rules"][0].items() if k != "on"}
    xuanhua = {"points": {"expiry_months": 6, "earning_rules": [rule]}}
    conn = await connect(owner)
    try:
        made = (("sanbai", "XX市", None, sanbai), ("xuanhua", "宣化区", "zhangjiakou", xuanhua))
        for slug, name, parent, doc in made:
            ids[slug] = await conn.fetchval(
                "INSERT INTO tenant (slug, name, parent_id, timezone, is_active, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'Asia/Shanghai', true, now(), now()) RETURNING id", slug, name, ids.get(parent))
            await conn.execute(
                "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment,"
                " created_at, schema_version) VALUES ($1, 1, $2::jsonb, '1900-01-01', 'platform', 'preset', now(), 2)",
                ids[slug], json.dumps(doc, ensure_ascii=False))
    finally:
        await conn.close()
    await migrate_to(owner)  # 0026
    await ensure_app_role(owner, app_url)

    conn = await connect(owner)
    try:
        stored = {r["slug"]: (r["schema_version"], json.loads(r["overrides"])) for r in await conn.fetch(
            "SELECT t.slug, v.schema_version, v.overrides::text AS overrides FROM config_version v"
            " JOIN tenant t ON t.id = v.tenant_id")}
        trigger = await conn.fetchval("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'config_version_withdraw'")
        forced = await conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'config_version'")
    finally:
        await conn.close()
    assert {slug: version for slug, (version, _) in stored.items()} == dict.fromkeys(ids, SCHEMA_VERSION)
    assert (trigger, forced) == ("O", True)  # versions are immutable and isolated again
    ConfigDocument.model_validate(stored["zhangjiakou"][1])  # a whole document of today's schema, as stored
    assert stored["zhangjiakou"][1]["assessment"]["bodies"]["party_org"]["roles"] == ["street_officer",
                                                                                      "community_worker"]
    assert stored["zhangjiakou"][1]["files"] == {"keep_location": False, "unattached_retention_hours": 24}
    # The district only re-weights its city's bodies: no roles or defaults that would shadow the city's values.
    assert stored["xiahuayuan"][1] == district
    # Schema 2 -> 3 (0026): points behave as before — every rule awarded by hand, no pay — and the document is whole.
    points = ConfigDocument.model_validate(stored["sanbai"][1]).points
    assert {r.on for r in points.earning_rules} == {"manual"} and len(points.earning_rules) == 6
    assert {(r.voucher_days, r.stock, r.partner) for r in points.redemptions} == {(30, None, None)}
    assert stored["sanbai"][1]["points"]["performance_pay"]["enabled"] is False
    assert stored["sanbai"][1]["schedule"]["monthly_points"] == {"day": 5, "hour": 3}
    assert stored["sanbai"][1] == upgrade_document(sanbai, 2, root=True)[0]
    # Schema 3 -> 4 (0030): 双报到's new fields at their defaults, no notice threshold where none was set.
    assert "working_hours" not in sanbai["party"]["dual_registration"]
    for slug in ("sanbai", "linshu", "zhangjiakou"):
        dual = ConfigDocument.model_validate(stored[slug][1]).party.dual_registration
        assert (dual.working_hours.end, len(dual.work_groups.normal), len(dual.work_groups.emergency)) == (
            "17:30", 4, 7), slug
        assert dual.notice_after_absences == (3 if slug == "linshu" else None), slug
    # Schema 4 -> 5 (0035): every stored rubric line is entered by its body, as before; owed interviews and
    # meetings take their defaults (a district inherits them from its city).
    for slug in ("sanbai", "linshu", "zhangjiakou"):
        doc = ConfigDocument.model_validate(stored[slug][1])
        rb, meeting = doc.assessment.red_black_list, doc.party.joint_meeting
        assert (rb.interview_within_days, rb.interview_reminder_days) == (30, 7), slug
        assert (meeting.decision_reminder_days, meeting.decision_escalation_days) == (3, 1), slug
    sourced = ConfigDocument.model_validate(stored["sanbai"][1])
    assert {i.source for i in sourced.assessment.rubric} == {"body"}
    assert sourced.party.joint_meeting.level == "community"
    # The district's own rules are completed; nothing is added that would shadow its city's points settings.
    assert stored["xuanhua"][1] == {"points": {"expiry_months": 6, "earning_rules": [{**rule, "on": "manual"}]}}

    # The current code reads it: the session's API on the upgraded database.
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(app_url, pool_size=2))
        tenant_cache.clear()
        try:
            got = await values(gql, token("xiahuayuan"), "assessment")
            assert got["assessment.bodies.party_org.weight"] == (70, "xiahuayuan")
            assert got["assessment.bodies.party_org.roles"] == (["street_officer", "community_worker"], "zhangjiakou")
            assert got["assessment.company_combination"] == ("fee_receivable", "zhangjiakou")
            got = await values(gql, token("xuanhua"), "points")
            assert got["points.earning_rules"][0][0]["on"] == "manual"
            assert got["points.performance_pay.enabled"] == (True, "zhangjiakou")  # the city's, not shadowed
            assert got["points.expiry_months"] == (6, "xuanhua")
            assert (await values(gql, token("linshu"), "open311")) == {
                "open311.publish_descriptions": (False, "linshu")}
            body = await gql(CHANGE, token("zhangjiakou"), {"set": {"tickets": {"review_dispatch_sla_hours": 4}}})
            assert body == {"data": {"changeConfig": {"versionNo": 2}}}
        finally:
            tenant_cache.clear()


async def test_a_document_of_a_newer_schema_is_refused_for_its_tenant_only(app, services, gql, token):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou", preset="xiahuayuan")
    await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    conn = await connect(services.owner_url)
    try:
        async with conn.transaction():  # as a newer release would have stored it (past the immutability trigger)
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE config_version SET schema_version = $1 WHERE tenant_id ="
                               " (SELECT id FROM tenant WHERE slug = 'zhangjiakou')", SCHEMA_VERSION + 1)
    finally:
        await conn.close()
    for slug in ("zhangjiakou", "xiahuayuan"):  # the city, and the district that inherits from it
        body = await gql(EFFECTIVE, token(slug), {"prefix": "files"})
        assert codes(body) == ["CONFIG_TOO_NEW"], body
        ext = body["errors"][0]["extensions"]
        assert ext["details"] == {"schemaVersion": SCHEMA_VERSION + 1, "readsUpTo": SCHEMA_VERSION}
        assert "deploy that release again" in ext["messageEn"]
    refused = await gql(CHANGE, token("zhangjiakou"), {"set": {"tickets": {"review_dispatch_sla_hours": 4}}})
    assert codes(refused) == ["CONFIG_TOO_NEW"]  # never overwritten by a release that would misread it
    me = await gql("{ me { tenant { slug } } }", token("zhangjiakou"))  # the rest of the API still answers
    assert me["data"]["me"]["tenant"]["slug"] == "zhangjiakou"
    assert (await values(gql, token("linshu"), "open311")) == {"open311.publish_descriptions": (False, "linshu")}


def test_the_upgrade_step_makes_every_shipped_preset_of_the_previous_schema_whole_again():
    for name in preset_names():
        preset = load_preset(name)
        chain = [load_preset(preset.parent).overrides] if preset.parent else []
        upgraded, filled = upgrade_document(previous_schema(preset.overrides), 1, root=preset.parent is None,
                                            parents=chain)
        assert filled or preset.parent, name
        # The document reads as the preset of today's schema does (the defaults are the behaviour from before).
        assert effective([("p", d) for d in chain] + [(name, upgraded)])[0] == effective(
            [("p", d) for d in chain] + [(name, preset.overrides)])[0], name
    # A district's body of a code its city defines keeps inheriting the city's roles; one its city lacks is filled;
    # a document of the current schema is left as it is.
    district = {"assessment": {"bodies": {"party_org": {"weight": 70}, "owners_committee": {"title": "业委会",
                                                                                           "weight": 10}}}}
    parent = {"assessment": {"bodies": {"party_org": {"roles": ["community_worker"]}}}}
    upgraded, filled = upgrade_document(district, 1, root=False, parents=[parent])
    assert filled == ["assessment.bodies.owners_committee.roles"]
    assert upgraded["assessment"]["bodies"]["owners_committee"]["roles"] == _V2_BODY_ROLES["owners_committee"]
    assert "roles" not in district["assessment"]["bodies"]["owners_committee"]  # the stored document is untouched
    assert upgrade_document(district, SCHEMA_VERSION, root=False) == (district, [])
    # A body of a code no preset knows keeps its gap: validation asks for its roles rather than guessing them.
    city = previous_schema(load_preset("zhangjiakou").overrides)
    city["assessment"]["bodies"]["street_office"] = city["assessment"]["bodies"].pop("housing_dept")
    for line in city["assessment"]["rubric"]:
        line["body"] = "street_office" if line["body"] == "housing_dept" else line["body"]
    with pytest.raises(InvalidInput) as exc:
        effective([("zhangjiakou", upgrade_document(city, 1, root=True)[0])])
    assert [(p.field, p.reason) for p in exc.value.problems] == [("assessment.bodies.street_office.roles", "required")]


def test_the_schema_3_step_keeps_points_as_they_were():
    """A schema-2 city gets each new field at the value that keeps what it did (nothing earned automatically, no
    pay); a schema-2 district only completes the items of its own lists, which replace its city's whole."""
    city = schema_2(load_preset("zhangjiakou").overrides)
    upgraded, filled = upgrade_document(city, 2, root=True, to=3)
    assert filled == [
        "points.expiry_warning_days", "points.grid_score", "points.performance_pay", "schedule.monthly_points",
        "schedule.nightly_points_hour", *(f"points.earning_rules.{i}.on" for i in range(5)),
        *(f"points.redemptions.{i}.voucher_days" for i in range(3)),
    ]
    doc = effective([("zhangjiakou", upgraded)])[0]
    assert [r.on for r in doc.points.earning_rules] == ["manual"] * 5
    assert doc.points.performance_pay == type(doc.points.performance_pay)()  # off, as document.py's default
    assert doc.points.grid_score == type(doc.points.grid_score)() and doc.points.expiry_warning_days == 7
    district = {"points": {"earning_rules": [city["points"]["earning_rules"][0]], "redemptions": []}}
    upgraded, filled = upgrade_document(district, 2, root=False, parents=[upgraded])
    assert filled == ["points.earning_rules.0.on"]
    assert upgraded == {"points": {"earning_rules": [{**district["points"]["earning_rules"][0], "on": "manual"}],
                                   "redemptions": []}}
    # A section a broken document lacks stays missing (validation names it); a current document is left alone.
    assert upgrade_document({"tickets": {}}, 2, root=True, to=3) == ({"tickets": {}}, [])
    preset = load_preset("sanbai").overrides
    assert upgrade_document(preset, SCHEMA_VERSION, root=True) == (preset, [])


def test_a_change_to_the_document_schema_ships_its_own_upgrade():
    """The rule: a change to ConfigDocument's schema (a field added, removed, renamed, retyped, a default or range
    changed) ships SCHEMA_VERSION + 1, STEPS[N] upgrading a stored document of N - 1 (defaults for added fields),
    a migration running ``upgrade_stored(client, to=N)``, and the line ``N  <fingerprint>`` in
    tests/config_schema.sha256. Steps, lines and migrations never change once shipped."""
    pinned = dict(line.split() for line in PINNED.read_text().splitlines() if line and not line.startswith("#"))
    assert max(map(int, pinned)) == SCHEMA_VERSION, "add the line for the new SCHEMA_VERSION"
    assert pinned[str(SCHEMA_VERSION)] == schema_fingerprint(), (
        "ConfigDocument's schema changed: raise SCHEMA_VERSION, add STEPS[N] and a migration running "
        f"upgrade_stored(client, to=N), then add `{SCHEMA_VERSION + 1}  {schema_fingerprint()}` to {PINNED.name}"
    )
    assert sorted(STEPS) == list(range(2, SCHEMA_VERSION + 1))
    migrations = "\n".join(p.read_text() for p in sorted((ROOT / "tenants" / "migrations").glob("0*.py")))
    upgraded_to = {int(n) for n in re.findall(r"^TO = (\d+)$", migrations, re.MULTILINE)}
    assert upgraded_to == set(range(2, SCHEMA_VERSION + 1)), "each schema version needs its upgrade migration"
