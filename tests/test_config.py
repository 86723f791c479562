"""Tenant configuration through GraphQL and the CLI: inheritance with sources, versions, validation, audit."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from tenants.config.models import ConfigVersion
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tests.conftest import codes
from tests.fixtures.cli import run_cli
from tests.fixtures.config import CHANGE, EFFECTIVE, today, values


async def test_a_district_inherits_its_city_and_shows_each_source(cities, gql, token):
    got = await values(gql, token("xiahuayuan"), "assessment.bodies")
    assert got["assessment.bodies.party_org.weight"] == (70, "xiahuayuan")
    assert got["assessment.bodies.owners_committee.weight"] == (15, "xiahuayuan")
    assert got["assessment.bodies.party_org.title"][1] == "zhangjiakou"
    assert await values(gql, token("xiahuayuan"), "tickets.review_dispatch_sla_hours") == {
        "tickets.review_dispatch_sla_hours": (3, "zhangjiakou")
    }
    pool = await values(gql, token("xiahuayuan"), "subsidies.yearly_pool_per_community_fen")
    assert pool == {"subsidies.yearly_pool_per_community_fen": (6_000_000, "xiahuayuan")}
    city = await values(gql, token("zhangjiakou"), "assessment.bodies.party_org.weight")
    assert city == {"assessment.bodies.party_org.weight": (40, "zhangjiakou")}


async def test_a_change_is_a_new_version_and_the_past_keeps_the_old(cities, gql, token):
    admin = token("xiahuayuan")
    weights = {"assessment": {"bodies": {"party_org": {"weight": 60}, "owners_committee": {"weight": 20},
                                         "housing_dept": {"weight": 20}}}}
    body = await gql(CHANGE, admin, {"set": weights, "comment": "党组织权重调整为60%"})
    assert body["data"]["changeConfig"]["versionNo"] == 2
    assert body["data"]["changeConfig"]["effectiveFrom"] == today()
    past_quarter = "2026-07-15"  # 2026Q3, computed before the change
    assert (await values(gql, admin, "assessment.bodies.party_org.weight", on=past_quarter)) == {
        "assessment.bodies.party_org.weight": (70, "xiahuayuan")
    }
    assert (await values(gql, admin, "assessment.bodies.party_org.weight")) == {
        "assessment.bodies.party_org.weight": (60, "xiahuayuan")
    }
    diff = await gql("{ configDiff(fromVersion: 1, toVersion: 2) { path before after } }", admin)
    assert diff["data"]["configDiff"] == [
        {"path": "assessment.bodies.housing_dept.weight", "before": 15, "after": 20},
        {"path": "assessment.bodies.owners_committee.weight", "before": 15, "after": 20},
        {"path": "assessment.bodies.party_org.weight", "before": 70, "after": 60},
    ]
    versions = await gql("{ configVersions { edges { node { versionNo author comment } } } }", admin)
    assert [e["node"]["versionNo"] for e in versions["data"]["configVersions"]["edges"]] == [2, 1]
    audit = await gql('{ auditLog(targetType: "config_version") { edges { node { action actor details } } } }', admin)
    entry = audit["data"]["auditLog"]["edges"][0]["node"]
    assert entry["action"] == "config.change" and len(entry["details"]["changes"]) == 3


async def test_an_invalid_change_lists_every_problem_and_saves_nothing(cities, gql, token):
    admin = token("xiahuayuan")
    bad = {"assessment": {"bodies": {"party_org": {"weight": 65}}, "colour": "red"},
           "bonds": {"ratio_percent": "ten"}}
    body = await gql(CHANGE, admin, {"set": bad, "from": "2026-01-01", "comment": "x"})
    err = body["errors"][0]["extensions"]
    assert err["code"] == "INVALID_INPUT"
    problems = {(p["field"], p["reason"]): p for p in err["problems"]}
    # Every problem at once, each by its document path: the unknown key, the wrong type, the date in the past and
    # the merged document's weights: 65 + 15 + 15 = 95 (this one used to be dropped beside the others).
    assert set(problems) == {
        ("assessment.colour", "unknown_key"),
        ("bonds.ratio_percent", "wrong_type"),
        ("effectiveFrom", "in_the_past"),
        ("assessment.bodies", "weights_sum"),
    }
    assert "must sum to 100, got 95" in problems[("assessment.bodies", "weights_sum")]["messageEn"]
    assert err["messageEn"] == "4 problems in the input"
    async with tenant_transaction(cities[1].id):
        assert await ConfigVersion.all().count() == 1


async def test_a_city_problem_is_reported_once_not_again_for_each_district(cities, gql, token):
    body = await gql(CHANGE, token("zhangjiakou"), {"set": {"tickets": {"review_dispatch_sla_hours": 0}},
                                                    "comment": "x"})
    problems = [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]]
    assert problems == [("tickets.review_dispatch_sla_hours", "out_of_range")]
    not_a_table = await gql(CHANGE, token("zhangjiakou"), {"set": [1, 2], "comment": "x"})
    assert [(p["field"], p["reason"]) for p in not_a_table["errors"][0]["extensions"]["problems"]] == [
        ("set", "wrong_type")
    ]


async def test_a_city_change_reaches_its_districts_from_its_date(cities, gql, token):
    faster = {"set": {"tickets": {"review_dispatch_sla_hours": 2}}, "comment": "提速"}
    body = await gql(CHANGE, token("zhangjiakou"), faster)
    assert "errors" not in body, body
    district = token("xiahuayuan")
    assert await values(gql, district, "tickets.review_dispatch_sla_hours") == {
        "tickets.review_dispatch_sla_hours": (2, "zhangjiakou")
    }
    assert await values(gql, district, "tickets.review_dispatch_sla_hours", on="2026-01-05") == {
        "tickets.review_dispatch_sla_hours": (3, "zhangjiakou")
    }
    # Unsetting a district's own value inherits the city's again.
    body = await gql(CHANGE, district, {"unset": ["subsidies.yearly_pool_per_community_fen"], "comment": "随市"})
    assert "errors" not in body, body
    pool = await values(gql, district, "subsidies.yearly_pool_per_community_fen")
    assert pool["subsidies.yearly_pool_per_community_fen"][1] == "zhangjiakou"


async def test_configuration_stays_inside_its_tenant(cities, gql, token):
    linshu = token("linshu")
    versions = await gql("{ configVersions { edges { node { versionNo overrides } } } }", linshu)
    assert len(versions["data"]["configVersions"]["edges"]) == 1
    assert await values(gql, linshu, "tickets.escalations_before_efficiency_office") == {
        "tickets.escalations_before_efficiency_office": (3, "linshu")
    }
    city, district, other = cities
    # A district reads its city's versions (inheritance); a city its districts' (to check changes against them).
    for tenant, visible in ((other, {other.id}), (district, {district.id, city.id}), (city, {city.id, district.id})):
        async with tenant_transaction(tenant.id) as conn:
            rows = await conn.execute_query_dict("SELECT tenant_id FROM config_version")
            assert {r["tenant_id"] for r in rows} == visible
    async with tenant_transaction(district.id) as conn:  # a district reads its city's versions, never writes them
        from tortoise.exceptions import OperationalError

        with pytest.raises(OperationalError, match="row-level security"):
            await conn.execute_query(
                "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment,"
                " created_at) VALUES ($1, 9, '{}', now(), 'x', '', now())", [city.id])
    resident = token("linshu", Role.RESIDENT)
    assert codes(await gql(EFFECTIVE, resident, {})) == ["FORBIDDEN"]
    assert codes(await gql(CHANGE, token("linshu", Role.STREET_OFFICER), {"set": {}, "comment": ""})) == ["FORBIDDEN"]


async def test_platform_creates_tenants_from_presets(app, gql, token):
    platform = token(None, Role.PLATFORM_ADMIN)
    body = await gql('mutation { createTenant(input: {slug: "sanbai", name: "XX市", preset: "sanbai"}) { slug } }',
                     platform)
    assert body["data"]["createTenant"] == {"slug": "sanbai"}
    mode = await values(gql, token("sanbai"), "assessment.mode")
    assert mode == {"assessment.mode": ("three_hundred_percent", "sanbai")}
    bad = await gql('mutation { createTenant(input: {slug: "x2", name: "x", preset: "atlantis"}) { slug } }', platform)
    assert bad["errors"][0]["extensions"]["problems"][0]["field"] == "preset"
    presets = await gql("{ presets { name parent } }", platform)
    assert {"name": "xiahuayuan", "parent": "zhangjiakou"} in presets["data"]["presets"]


async def test_cli_creates_exports_and_imports_configuration(app, tmp_path):
    assert run_cli("tenant", "create", "zhangjiakou", "--preset", "zhangjiakou").returncode == 0
    made = run_cli("tenant", "create", "xuanhua", "--preset", "xuanhua", "--parent", "zhangjiakou")
    assert made.returncode == 0 and "宣化区" in made.stdout
    exported = run_cli("tenant", "config", "export", "--tenant", "xuanhua")
    assert exported.returncode == 0 and "commend_top = 15" in exported.stdout
    yaml_out = run_cli("tenant", "config", "export", "--tenant", "xuanhua", "--effective", "--format", "yaml")
    assert "review_dispatch_sla_hours: 3" in yaml_out.stdout
    edited = tmp_path / "xuanhua.toml"
    edited.write_text(exported.stdout.replace("commend_top = 15", "commend_top = 12"), encoding="utf-8")
    imported = run_cli("tenant", "config", "import", str(edited), "--tenant", "xuanhua", "--comment", "表彰12家",
                       "--yes")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "assessment.red_black_list.commend_top: 15 -> 12" in imported.stdout
    assert "version 2 of xuanhua" in imported.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("assessment:\n  red_black_list:\n    commend_top: -1\n", encoding="utf-8")
    failed = run_cli("tenant", "config", "import", str(broken), "--tenant", "xuanhua", "--yes")
    assert failed.returncode == 1 and "commend_top" in failed.stdout


async def test_cli_creates_a_city_without_a_preset_from_the_default_document(app):
    made = run_cli("tenant", "create", "newtown", "--name", "新城县")
    assert made.returncode == 0 and "with configuration preset zhangjiakou" in made.stdout
    district = run_cli("tenant", "create", "oldtown", "--name", "老城区", "--parent", "newtown")
    assert district.returncode == 0 and "the configuration of newtown, inherited" in district.stdout
    # A whole document from the first day (3 hours to review and dispatch, as in 张家口), for the district too.
    for slug in ("newtown", "oldtown"):
        exported = run_cli("tenant", "config", "export", "--tenant", slug, "--effective")
        assert exported.returncode == 0 and "review_dispatch_sla_hours = 3" in exported.stdout, exported.stderr


async def _own_versions(slug: str) -> list[int]:
    from tenants.tenancy.service import get_tenant_by_slug

    tenant = await get_tenant_by_slug(slug)
    async with tenant_transaction(tenant.id):
        return await ConfigVersion.all().order_by("version_no").values_list("version_no", flat=True)


async def test_cli_exports_the_effective_document_as_toml(app, tmp_path):
    import tomllib

    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    # Weighted mode: rubric lines have no dimension (None), which TOML cannot hold; it is left out ("not set").
    exported = run_cli("tenant", "config", "export", "--tenant", "zhangjiakou", "--effective")
    assert exported.returncode == 0, exported.stderr
    doc = tomllib.loads(exported.stdout)
    assert doc["assessment"]["bodies"]["party_org"]["weight"] == 40
    assert "dimension" not in doc["assessment"]["rubric"][0]


async def test_cli_import_shows_the_diff_and_asks_before_removing_overrides(app, tmp_path):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    await create_tenant(slug="xuanhua", name="宣化区", parent_slug="zhangjiakou", preset="xuanhua")
    for name in ("empty.txt", "empty"):
        (tmp_path / name).write_text("", encoding="utf-8")
        refused = run_cli("tenant", "config", "import", str(tmp_path / name), "--tenant", "xuanhua", "--yes")
        assert refused.returncode == 2 and ".toml, .yaml or .yml" in refused.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("assessment = [", encoding="utf-8")
    broken = run_cli("tenant", "config", "import", str(bad), "--tenant", "xuanhua", "--yes")
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr and "Traceback" not in broken.stderr
    own = tmp_path / "own.yaml"
    own.write_text(run_cli("tenant", "config", "export", "--tenant", "xuanhua", "--format", "yaml").stdout)
    same = run_cli("tenant", "config", "import", str(own), "--tenant", "xuanhua")
    assert same.returncode == 0 and "no changes" in same.stdout
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    # xuanhua sets 4 values of its own (xuanhua.toml): an empty file would remove them all. Asked, "n" keeps them.
    declined = run_cli("tenant", "config", "import", str(empty), "--tenant", "xuanhua", input="n\n")
    assert declined.returncode == 1 and "nothing imported" in declined.stdout
    assert "assessment.red_black_list.commend_top: 15 -> (not set)" in declined.stdout
    assert await _own_versions("xuanhua") == [1]
    accepted = run_cli("tenant", "config", "import", str(empty), "--tenant", "xuanhua", input="y\n")
    assert accepted.returncode == 0 and "version 2 of xuanhua" in accepted.stdout
    assert await _own_versions("xuanhua") == [1, 2]


async def test_the_demo_has_preset_tenants_with_territory(app, gql, token):
    from tenants.audit.models import AuditEntry
    from tenants.demo.seed import DEMO_TENANTS, seed_demo
    from tenants.scope import tenant_context
    from tenants.tenancy.scheduled import data_volume
    from tenants.tenancy.service import get_tenant_by_slug

    users = await seed_demo()

    async def volumes() -> dict:
        out = {}
        for slug, *_ in DEMO_TENANTS:
            tenant = await get_tenant_by_slug(slug)
            with tenant_context(tenant.id):
                counts = await data_volume()
            async with tenant_transaction(tenant.id):
                counts["audit_entry"] = await AuditEntry.exclude(action="territory.import").count()
            out[slug] = counts
        return out

    before = await volumes()
    assert await seed_demo() == users
    assert await volumes() == before  # a second start changes nothing (but the log of its import run)
    for slug, *_ in DEMO_TENANTS:
        body = await gql("{ areas(level: HOUSEHOLD, first: 1) { edges { node { id } } } effectiveConfig { on } }",
                         token(slug))
        assert body["data"]["areas"]["edges"], slug
    street_user = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "street")
    assert street_user.claims.roles == (Role.STREET_OFFICER,)
    # Points: the canteen's staff member verifies vouchers; the resident volunteered 6 days x 2 awards of 5 points
    # (zhangjiakou's volunteer_service, inherited) and the fund holds 10,000 yuan.
    merchant = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "merchant")
    assert merchant.claims.roles == (Role.PARTNER_STAFF,)
    resident = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "resident")
    body = await gql("{ pointsBalance { balance } }", token("xiahuayuan", *resident.claims.roles,
                                                          user_id=resident.claims.user_id, scope=resident.claims.scope))
    assert body["data"]["pointsBalance"]["balance"] >= 60, body
    # 双报到 (on in every demo tenant): a unit with its contact, two approved members (one an online building head)
    # and an open activity tomorrow at 19:00 Beijing time, outside working hours; the member and contact are users.
    member = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "member")
    assert set(member.claims.roles) == {Role.RESIDENT, Role.PARTY_MEMBER}
    contact = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "unit_contact")
    assert contact.claims.roles == (Role.WORK_UNIT_CONTACT,)
    worker = next(u for u in users if u.tenant == "xiahuayuan" and u.label == "community_worker")
    assert worker.claims.roles == (Role.COMMUNITY_WORKER,) and worker.claims.scope[0].startswith("community:")
    from tenants.dual import emergency_reads
    from tenants.territory.access import resolve

    async with tenant_transaction((await get_tenant_by_slug("xiahuayuan")).id):
        community = int(worker.claims.scope[0].split(":")[1].split("/")[0])
        caller = await resolve(frozenset(worker.claims.roles), worker.claims.scope, worker.claims.user_id)
        board = await emergency_reads.work_groups(access=caller, community_id=community)
    assert [m.name for m in board.groups[0].members] == ["社区工作者"]  # the first group reaches somebody
    for slug, *_ in DEMO_TENANTS:
        counts = before[slug]
        assert [counts[t] for t in ("work_unit", "dual_unit_registration", "dual_member_registration",
                                    "dual_member_post", "dual_activity")] == [1, 1, 2, 1, 1], slug
    from tenants.dual.models import Activity, ActivityStatus

    async with tenant_transaction((await get_tenant_by_slug("xiahuayuan")).id):
        activity = await Activity.get()
    local = activity.starts_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.date(), local.hour) == (date.fromisoformat(today()) + timedelta(days=1), 19)
    assert activity.status == ActivityStatus.OPEN and activity.outside_working_hours


async def test_a_first_version_made_later_does_not_rewrite_the_past(app, gql, token):
    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    await create_tenant(slug="xuanhua", name="宣化区", parent_slug="zhangjiakou")  # no preset: inherits all
    district = token("xuanhua")
    path = "assessment.bodies.party_org.weight"
    assert await values(gql, district, path, on="2025-03-01") == {path: (40, "zhangjiakou")}
    body = await gql(CHANGE, district, {"set": {"assessment": {"bodies": {"party_org": {"weight": 50},
                                            "owners_committee": {"weight": 25}, "housing_dept": {"weight": 25}}}},
                                        "comment": "首个本级版本"})
    assert body["data"]["changeConfig"]["effectiveFrom"] == today()
    assert await values(gql, district, path, on="2025-03-01") == {path: (40, "zhangjiakou")}
    assert await values(gql, district, path) == {path: (50, "xuanhua")}


async def test_versions_follow_each_other_in_time(cities, gql, token):
    from datetime import date, timedelta

    admin = token("linshu")
    later = (date.fromisoformat(today()) + timedelta(days=60)).isoformat()
    body = await gql(CHANGE, admin, {"set": {"bonds": {"ratio_percent": 8}}, "from": later, "comment": "两个月后"})
    assert body["data"]["changeConfig"]["effectiveFrom"] == later
    early = await gql(CHANGE, admin, {"set": {"party": {"dual_registration": {"min_participations_per_year": 6}}},
                                      "comment": "今天"})
    assert early["errors"][0]["extensions"]["problems"][0]["reason"] == "before_scheduled"
    assert await values(gql, admin, "bonds.ratio_percent") == {"bonds.ratio_percent": (5, "linshu")}
    assert await values(gql, admin, "bonds.ratio_percent", on=later) == {"bonds.ratio_percent": (8, "linshu")}


async def test_a_city_change_that_would_break_a_district_is_refused(cities, gql, token):
    from tenants.presets import load_preset

    city = token("zhangjiakou")
    rubric = load_preset("zhangjiakou").overrides["assessment"]["rubric"]
    rubric = [*rubric, {"code": "resident_panel", "title": "居民代表评议", "max_points": 10, "body": "residents"}]
    # Valid for the city (30 + 30 + 30 + 10), but 下花园区's own 70/15/15 plus the inherited 10 make 110.
    extra_body = {"assessment": {"rubric": rubric, "bodies": {
        "residents": {"title": "居民代表", "roles": [], "weight": 10}, "party_org": {"weight": 30},
        "owners_committee": {"weight": 30}, "housing_dept": {"weight": 30}}}}
    body = await gql(CHANGE, city, {"set": extra_body, "comment": "增加居民代表"})
    problems = body["errors"][0]["extensions"]["problems"]
    assert [(p["field"].split(".")[:2], p["reason"]) for p in problems] == [(["children", "xiahuayuan"], "weights_sum")]
    assert "got 110" in problems[0]["messageEn"]
    async with tenant_transaction(cities[0].id):
        assert await ConfigVersion.filter(tenant_id=cities[0].id).count() == 1


async def test_the_platform_seeds_only_a_tenant_it_is_creating(cities):
    from tortoise.exceptions import OperationalError

    from tenants.scope import platform_transaction

    with pytest.raises(OperationalError, match="row-level security"):
        async with platform_transaction() as conn:
            await conn.execute_query(
                "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment,"
                " created_at) VALUES ($1, 1, '{}', DATE '2000-01-01', 'x', '', now())", [cities[2].id])


async def test_text_that_cannot_be_stored_is_a_client_error(cities, gql, token):
    admin = token("linshu")
    bad_title = {"assessment": {"bodies": {"party_org": {"title": "党\u0000组织"}}}}
    body = await gql(CHANGE, admin, {"set": bad_title, "comment": "x"})
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [
        ("set.assessment.bodies.party_org.title", "nul")  # refused at the edge (api/guard.py), by its path
    ]
    body = await gql(CHANGE, admin, {"set": {}, "unset": ["a\u0000"], "comment": "说明\u0000"})
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [
        ("unset.0", "nul"), ("comment", "nul")
    ]
