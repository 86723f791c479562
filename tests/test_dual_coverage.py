"""Who reads which 双报到 records (a member their own, a unit's contact its unit's and its members', community workers
their community, street officers their street, another tenant nothing) and the coverage report's scope, figures and
statement count."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from tenants.dual import access, coverage, posts, registrations, units
from tenants.dual.models import MemberRegistration
from tenants.errors import Forbidden, NotFound
from tenants.paging import Window
from tenants.scope import tenant_transaction
from tests.conftest import codes
from tests.fixtures.statements import orm_statements

REGS = "{ memberRegistrations { totalCount edges { node { personId communityId status } } } }"
UNIT_REGS = "{ unitRegistrations { totalCount edges { node { workUnitId communityId } } } }"
POSTS = "{ memberPosts { totalCount edges { node { personId kind } } } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"


async def _registered(w) -> dict[str, int]:
    """pm-1 at C1 naming U1 (online head of B1), pm-2 at C2 naming U2 (offline head of B3), pm-3 at C3 naming U1
    (pending); U1 registered at C1 (approved) and at C3 (pending). Returns the registrations' ids."""
    ids, out = w.ids, {}
    async with tenant_transaction(w.t.id):
        for who, community, unit in (("pm-1", "C1", "U1"), ("pm-2", "C2", "U2"), ("pm-3", "C3", "U1")):
            reg = await registrations.register_member(
                access=w.caller(who), actor=who, community_id=ids[community],
                details=registrations.Details(party_org="党支部", work_unit_id=ids[unit]),
            )
            out[who] = reg.id
            if who != "pm-3":
                await registrations.decide(access=w.caller("admin"), actor="admin", registration_id=reg.id,
                                           action="approve")
        await posts.claim(access=w.caller("pm-1"), actor="pm-1", kind="online_building_head", building_id=ids["B1"])
        await posts.claim(access=w.caller("pm-2"), actor="pm-2", kind="offline_building_head", building_id=ids["B3"])
        for community in ("C1", "C3"):
            reg = await units.register_work_unit(access=w.caller("wu-1"), actor="wu-1", work_unit_id=ids["U1"],
                                                 community_id=ids[community], resources=["场地"],
                                                 agreement_from=date(2026, 1, 1))
            out[f"U1@{community}"] = reg.id
        await units.decide_unit_registration(access=w.caller("cw-1"), actor="cw-1",
                                             registration_id=out["U1@C1"], action="approve")
    return out


def _people(body: dict, name: str, w) -> list[str]:
    by_id = {str(v): k for k, v in w.ids.items() if k.startswith("pm")}
    return sorted(by_id[e["node"]["personId"]] for e in body["data"][name]["edges"])


async def test_each_caller_reads_their_own_share_and_another_tenant_nothing(dual_world, gql):
    w, tk = dual_world, dual_world.tokens
    regs = await _registered(w)
    expected = {
        "admin": ["pm-1", "pm-2", "pm-3"],
        "so-1": ["pm-1", "pm-2"],  # S1: C1 and C2
        "so-2": ["pm-3"],  # S2: C3
        "cw-1": ["pm-1"],
        "cw-2": ["pm-2"],
        "wu-1": ["pm-1", "pm-3"],  # the members naming U1
        "pm-1": ["pm-1"],
        "pm-3": ["pm-3"],
    }
    for who, people in expected.items():
        assert _people(await gql(REGS, tk[who]), "memberRegistrations", w) == people, who
    posts_seen = {"admin": ["pm-1", "pm-2"], "cw-2": ["pm-2"], "wu-1": ["pm-1"], "pm-1": ["pm-1"], "pm-3": []}
    for who, people in posts_seen.items():
        assert _people(await gql(POSTS, tk[who]), "memberPosts", w) == people, who
    named = await gql("{ memberRegistrations { edges { node { personName workUnit { name } } } } }", tk["wu-1"])
    edges = named["data"]["memberRegistrations"]["edges"]
    pairs = [(e["node"]["personName"], e["node"]["workUnit"]["name"]) for e in edges]
    assert sorted(pairs) == [("pm-1", "区委组织部"), ("pm-3", "区委组织部")]
    # Units' registrations: staff their area's, the contact its unit's, a member none.
    assert (await gql(UNIT_REGS, tk["wu-1"]))["data"]["unitRegistrations"]["totalCount"] == 2
    assert (await gql(UNIT_REGS, tk["cw-1"]))["data"]["unitRegistrations"]["totalCount"] == 1
    assert (await gql(UNIT_REGS, tk["cw-2"]))["data"]["unitRegistrations"]["totalCount"] == 0
    assert (await gql(UNIT_REGS, tk["pm-1"]))["data"]["unitRegistrations"]["totalCount"] == 0
    assert codes(await gql(REGS, tk["res-1"])) == ["FORBIDDEN"]  # a resident takes no part
    # Refetching by id follows the same rule; another tenant sees nothing at all.
    pm2_reg = f"MemberRegistration:{regs['pm-2']}"
    gid = base64.b64encode(pm2_reg.encode()).decode()
    assert (await gql(NODE, tk["cw-2"], {"id": gid}))["data"]["node"] == {"id": gid}
    for who in ("cw-1", "pm-1", "wu-1", "other_admin"):
        assert (await gql(NODE, tk[who], {"id": gid}))["data"]["node"] is None, who
    assert (await gql(REGS, tk["other_admin"]))["data"]["memberRegistrations"]["totalCount"] == 0
    assert (await gql(UNIT_REGS, tk["other_admin"]))["data"]["unitRegistrations"]["totalCount"] == 0
    # The scope other parts build on: member_scope and contact_units.
    async with tenant_transaction(w.t.id):
        scope = access.member_scope(w.caller("wu-1"), "person_id")
        assert scope is not None
        seen = await MemberRegistration.filter(scope).values_list("person_id", flat=True)
        assert sorted(set(seen)) == sorted([w.ids["pm-1"], w.ids["pm-3"]])
        assert access.contact_units(w.caller("wu-1")) == [w.ids["U1"]]
        assert access.member_scope(w.caller("admin")) is None
    async with tenant_transaction(w.other.id):
        assert await MemberRegistration.all().count() == 0


async def test_coverage_follows_the_callers_area(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    await _registered(w)
    q = "query($c: ID) { dualCoverage(communityId: $c) { communities { id databaseId name } streets { id name } " \
        "total { buildings withOnlineHead withOfflineHead members units postsHeld } } }"
    cw1 = (await gql(q, tk["cw-1"]))["data"]["dualCoverage"]
    assert [(c["databaseId"], c["name"]) for c in cw1["communities"]] == [(str(ids["C1"]), "C1名")]
    assert [s["name"] for s in cw1["streets"]] == ["S1名"]
    # The rows' ids are global ids, like every other id field: node(id:) refetches the community.
    gid = cw1["communities"][0]["id"]
    assert (await gql("query($id: ID!) { node(id: $id) { ... on Community { name } } }", tk["cw-1"], {"id": gid})
            )["data"]["node"] == {"name": "C1名"}
    assert cw1["total"] == {"buildings": 2, "withOnlineHead": 1, "withOfflineHead": 0, "members": 1, "units": 1,
                            "postsHeld": 1}
    so2 = (await gql(q, tk["so-2"]))["data"]["dualCoverage"]  # C3: pm-3 pending, U1 pending: nothing counts yet
    assert so2["total"] == {"buildings": 1, "withOnlineHead": 0, "withOfflineHead": 0, "members": 0, "units": 0,
                            "postsHeld": 0}
    assert codes(await gql(q, tk["cw-1"], {"c": str(ids["C2"])})) == ["NOT_FOUND"]
    assert codes(await gql(q, tk["admin"], {"c": str(w.other_ids["C1"])})) == ["NOT_FOUND"]
    assert codes(await gql(q, tk["pm-1"])) == ["FORBIDDEN"]
    assert codes(await gql(q, tk["wu-1"])) == ["FORBIDDEN"]
    without = "query($c: ID!) { buildingsWithoutHead(communityId: $c) { totalCount } }"
    assert codes(await gql(without, tk["cw-1"], {"c": str(ids["C2"])})) == ["FORBIDDEN"]
    assert (await gql(without, tk["so-1"], {"c": str(ids["C2"])}))["data"]["buildingsWithoutHead"]["totalCount"] == 1


async def test_the_report_is_one_statement_whatever_the_number_of_communities(dual_world):
    w = dual_world
    await _registered(w)
    async with tenant_transaction(w.t.id):
        with orm_statements() as sent:
            report = await coverage.coverage(access=w.caller("admin"))
    assert len(report.communities) == 3 and len(report.streets) == 2
    assert len([s for s in sent if "dual_member_post" in s]) == 1, sent  # the report itself: one statement
    assert len(sent) <= 2, sent  # and at most the configuration in force
    async with tenant_transaction(w.t.id):
        with pytest.raises(NotFound):
            await coverage.coverage(access=w.caller("cw-1"), street_id=w.ids["S2"])
        with pytest.raises(Forbidden):
            await coverage.buildings_without_head(access=w.caller("cw-2"), community_id=w.ids["C1"],
                                                  window=Window(limit=5))
