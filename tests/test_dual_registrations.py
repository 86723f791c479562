"""双报到 registrations: work units and their contact post, a unit's and a member's registration from submission to
approval, posts members claim, moves that keep the history, one winner of concurrent submissions and claims, and
hostile input refused with typed errors and nothing half-saved."""

from __future__ import annotations

import asyncio

import pytest

from tenants.config.service import change_config
from tenants.dual import posts, registrations
from tenants.dual.models import MemberPost, MemberRegistration, UnitRegistration
from tenants.errors import Conflict
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import people_service as people
from tests.conftest import codes
from tests.fixtures.callers import ADMIN, bearer

UNIT = "mutation($i: WorkUnitInput!) { createWorkUnit(input: $i) { id databaseId code kind isActive } }"
UPDATE_UNIT = "mutation($id: ID!, $i: WorkUnitInput!) { updateWorkUnit(id: $id, input: $i) { name isActive } }"
ASSIGN = """mutation($p: ID!, $t: ID!) { assignPost(input: {personId: $p, kind: WORK_UNIT_CONTACT,
  targetType: WORK_UNIT, targetId: $t}) { id } }"""
REG_UNIT = """mutation($i: RegisterWorkUnitInput!) { registerWorkUnit(input: $i) { id status resources
  agreementUntil } }"""
APPROVE_UNIT = "mutation($id: ID!) { approveUnitRegistration(id: $id) { status decidedBy } }"
REG_MEMBER = """mutation($i: RegisterPartyMemberInput!) { registerPartyMember(input: $i) { id databaseId status
  buildingId workUnitName selfRegistered replacesId } }"""
APPROVE = "mutation($id: ID!) { approveMemberRegistration(id: $id) { status startsOn } }"
REJECT = "mutation($id: ID!, $r: String!) { rejectMemberRegistration(id: $id, reason: $r) { status reason } }"
MOVE = """mutation($id: ID!, $c: ID!) { moveRegistration(id: $id, communityId: $c) { id databaseId status
  replacesId } }"""
CLAIM = "mutation($i: MemberPostInput!) { claimMemberPost(input: $i) { id kind buildingId role endsOn } }"
END_POST = "mutation($id: ID!) { endMemberPost(id: $id, reason: \"工作调整\") { endsOn } }"
MINE = """{ myDualRegistration { current { id communityId status } pending { id communityId }
  history { status communityId endsOn } } }"""
FIGURES = "figures { buildings withOnlineHead withOfflineHead withAnyHead withoutHead members units postsHeld }"
COVERAGE = f"""query($s: ID, $c: ID) {{ dualCoverage(streetId: $s, communityId: $c) {{
  communities {{ databaseId {FIGURES} }} streets {{ databaseId {FIGURES} }} total {{ buildings withAnyHead }} }} }}"""
WITHOUT = "query($c: ID!) { buildingsWithoutHead(communityId: $c) { totalCount edges { node { databaseId } } } }"


def _data(body: dict, name: str) -> dict:
    assert "errors" not in body, body
    return body["data"][name]


def fig(buildings, online, offline, any_head, members, units, posts_held) -> dict:
    return {"buildings": buildings, "withOnlineHead": online, "withOfflineHead": offline, "withAnyHead": any_head,
            "withoutHead": buildings - any_head, "members": members, "units": units, "postsHeld": posts_held}


async def _counts(t) -> tuple[int, int, int]:
    async with tenant_transaction(t.id):
        return (await UnitRegistration.all().count(), await MemberRegistration.all().count(),
                await MemberPost.all().count())


async def test_register_approve_claim_and_the_coverage_through_graphql(dual_world, settings, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    # Work units: the administration (or a street officer) keeps them; codes are unique; residents may not.
    made = _data(await gql(UNIT, tk["so-1"], {"i": {"code": "tax-01", "kind": "ORGAN", "name": "区税务局"}}),
                 "createWorkUnit")
    assert made["kind"] == "ORGAN" and made["isActive"] is True
    assert codes(await gql(UNIT, tk["admin"], {"i": {"code": "tax-01", "kind": "ENTERPRISE", "name": "x"}})) == [
        "CONFLICT"]
    assert codes(await gql(UNIT, tk["res-1"], {"i": {"code": "x", "kind": "ORGAN", "name": "x"}})) == ["FORBIDDEN"]
    assert _data(await gql(UPDATE_UNIT, tk["admin"], {"id": made["id"], "i": {"name": "国家税务总局双滦区税务局"}}),
                 "updateWorkUnit") == {"name": "国家税务总局双滦区税务局", "isActive": True}
    # Its contact is a person with a work_unit_contact post (assignPost), which grants the role and the unit.
    async with tenant_transaction(w.t.id):
        clerk = await people.create_person(access=ADMIN, actor="admin", user_id="tax-clerk", name="税务联络员")
    assert "errors" not in await gql(ASSIGN, tk["admin"], {"p": str(clerk.id), "t": made["databaseId"]})
    async with tenant_transaction(w.t.id):
        claims = await people.claims_for(clerk)
    assert Role.WORK_UNIT_CONTACT in claims.roles
    assert f"work_unit:{made['databaseId']}/work_unit_contact" in claims.scope
    clerk_token = bearer(settings, w.t, Role.WORK_UNIT_CONTACT, *claims.scope, user_id="tax-clerk")
    # ... and registers its own unit (not another one) at a community.
    reg = _data(await gql(REG_UNIT, clerk_token, {"i": {"workUnitId": made["id"], "communityId": str(ids["C1"]),
                                                      "resources": ["税法宣传", " 志愿者 20 人 "],
                                                      "agreementFrom": "2026-01-01"}}), "registerWorkUnit")
    assert reg["status"] == "PENDING" and reg["resources"] == ["税法宣传", "志愿者 20 人"]
    other_unit = {"workUnitId": str(ids["U2"]), "communityId": str(ids["C1"]), "agreementFrom": "2026-01-01"}
    assert codes(await gql(REG_UNIT, clerk_token, {"i": other_unit})) == ["FORBIDDEN"]
    u1 = _data(await gql(REG_UNIT, tk["wu-1"], {"i": {**other_unit, "workUnitId": str(ids["U1"])}}),
               "registerWorkUnit")
    assert codes(await gql(APPROVE_UNIT, tk["cw-2"], {"id": u1["id"]})) == ["NOT_FOUND"]  # C1 is not C2's
    assert _data(await gql(APPROVE_UNIT, tk["cw-1"], {"id": u1["id"]}), "approveUnitRegistration") == {
        "status": "APPROVED", "decidedBy": "cw-1"}
    again = await gql(REG_UNIT, tk["wu-1"], {"i": {**other_unit, "workUnitId": str(ids["U1"])}})
    assert codes(again) == ["CONFLICT"]  # one current registration per unit and community
    # A party member registers themselves at their residence community; staff enter someone in their area.
    pm1 = _data(await gql(REG_MEMBER, tk["pm-1"], {"i": {"communityId": str(ids["C1"]), "workUnitId": str(ids["U1"]),
                                                         "partyOrg": "区委组织部机关党支部"}}), "registerPartyMember")
    assert pm1["status"] == "PENDING" and pm1["selfRegistered"] is True
    assert pm1["buildingId"] == str(ids["B1"]) and pm1["workUnitName"] == "区委组织部"
    pm2_input = {"personId": str(ids["pm-2"]), "workUnitName": "区医院", "partyOrg": "区医院党总支",
                 "skills": ["medical"]}
    wrong_home = await gql(REG_MEMBER, tk["so-1"], {"i": {**pm2_input, "communityId": str(ids["C1"])}})
    assert codes(wrong_home) == ["CONFLICT"]
    assert wrong_home["errors"][0]["extensions"]["details"] == {"residenceCommunityId": ids["C2"]}
    assert codes(await gql(REG_MEMBER, tk["cw-1"], {"i": {**pm2_input, "communityId": str(ids["C2"])}})) == [
        "NOT_FOUND"]  # pm-2 lives outside cw-1's community: not a person cw-1 reads
    nowhere = {**pm2_input, "personId": str(ids["pm-3"]), "communityId": str(ids["C2"])}
    assert codes(await gql(REG_MEMBER, tk["cw-1"], {"i": nowhere})) == ["NOT_FOUND"]  # no household: not cw-1's
    pm2 = _data(await gql(REG_MEMBER, tk["so-1"], {"i": {**pm2_input, "communityId": str(ids["C2"])}}),
                "registerPartyMember")
    assert pm2["selfRegistered"] is False and pm2["buildingId"] == str(ids["B3"])
    # The community approves; a member without an approved registration claims nothing.
    assert codes(await gql(CLAIM, tk["pm-1"], {"i": {"kind": "ONLINE_BUILDING_HEAD",
                                                      "buildingId": str(ids["B1"])}})) == ["CONFLICT"]
    assert _data(await gql(APPROVE, tk["cw-1"], {"id": pm1["id"]}), "approveMemberRegistration")["status"] == (
        "APPROVED")
    assert _data(await gql(APPROVE, tk["so-1"], {"id": pm2["id"]}), "approveMemberRegistration")["status"] == (
        "APPROVED")
    # Posts: pm-1 heads B1 online and offline; pm-2 heads B3 offline and volunteers; B2 and B4 have no head.
    for who, kind, building, role in (("pm-1", "ONLINE_BUILDING_HEAD", "B1", None),
                                      ("pm-1", "OFFLINE_BUILDING_HEAD", "B1", None),
                                      ("pm-2", "OFFLINE_BUILDING_HEAD", "B3", None),
                                      ("pm-2", "VOLUNTEER", None, "文明劝导")):
        i = {"kind": kind, "buildingId": str(ids[building]) if building else None, "role": role}
        post = _data(await gql(CLAIM, tk[who], {"i": i}), "claimMemberPost")
        assert post["kind"] == kind and post["endsOn"] is None
    assert codes(await gql(CLAIM, tk["pm-2"], {"i": {"kind": "ONLINE_BUILDING_HEAD",
                                                      "buildingId": str(ids["B1"])}})) == ["NOT_FOUND"]  # not C2's
    # Hand-computed: C1 has B1 (both heads) and B2 (none); C2 has B3 (offline) and B4 (none); U1 approved at C1.
    s1 = _data(await gql(COVERAGE, tk["so-1"], {"s": str(ids["S1"])}), "dualCoverage")
    assert [c["databaseId"] for c in s1["communities"]] == [str(ids["C1"]), str(ids["C2"])]
    assert s1["communities"][0]["figures"] == fig(2, 1, 1, 1, 1, 1, 2)
    assert s1["communities"][1]["figures"] == fig(2, 0, 1, 1, 1, 0, 2)
    assert s1["streets"] == [{"databaseId": str(ids["S1"]), "figures": fig(4, 1, 2, 2, 2, 1, 4)}]
    whole = _data(await gql(COVERAGE, tk["admin"], {}), "dualCoverage")
    assert whole["total"] == {"buildings": 5, "withAnyHead": 2}  # C3's B5 too
    assert len(whole["streets"]) == 2
    without = _data(await gql(WITHOUT, tk["cw-1"], {"c": str(ids["C1"])}), "buildingsWithoutHead")
    assert without["totalCount"] == 1 and without["edges"][0]["node"]["databaseId"] == str(ids["B2"])
    # Ending the offline post frees B1's offline place.
    mine = (await gql("{ memberPosts(held: true, kind: OFFLINE_BUILDING_HEAD) { edges { node { id } } } }",
                      tk["pm-1"]))["data"]["memberPosts"]["edges"]
    assert len(mine) == 1
    assert _data(await gql(END_POST, tk["pm-1"], {"id": mine[0]["node"]["id"]}), "endMemberPost")["endsOn"]
    c1 = _data(await gql(COVERAGE, tk["cw-1"], {}), "dualCoverage")
    assert c1["communities"][0]["figures"] == fig(2, 1, 0, 1, 1, 1, 1)


async def test_a_move_waits_beside_the_registration_then_replaces_it_and_the_history_stays(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    # pm-3 has no household: any community will do.
    first = _data(await gql(REG_MEMBER, tk["pm-3"], {"i": {"communityId": str(ids["C1"]), "workUnitId": str(ids["U1"]),
                                                           "partyOrg": "机关党支部", "skills": ["driver"]}}),
                  "registerPartyMember")
    assert _data(await gql(APPROVE, tk["cw-1"], {"id": first["id"]}), "approveMemberRegistration")["status"] == (
        "APPROVED")
    _data(await gql(CLAIM, tk["pm-3"], {"i": {"kind": "ONLINE_BUILDING_HEAD", "buildingId": str(ids["B2"])}}),
          "claimMemberPost")
    moved = _data(await gql(MOVE, tk["pm-3"], {"id": first["id"], "c": str(ids["C2"])}), "moveRegistration")
    assert moved["status"] == "PENDING" and moved["replacesId"] == first["databaseId"]
    assert codes(await gql(MOVE, tk["pm-3"], {"id": first["id"], "c": str(ids["C3"])})) == ["CONFLICT"]
    mine = _data(await gql(MINE, tk["pm-3"]), "myDualRegistration")
    assert mine["current"]["communityId"] == str(ids["C1"]) and mine["pending"]["communityId"] == str(ids["C2"])
    # While it waits, the member still heads B2; approved by C2, the old one is moved and its post ends.
    assert codes(await gql(APPROVE, tk["cw-1"], {"id": moved["id"]})) == ["NOT_FOUND"]  # C2's to decide
    assert _data(await gql(APPROVE, tk["cw-2"], {"id": moved["id"]}), "approveMemberRegistration")["status"] == (
        "APPROVED")
    mine = _data(await gql(MINE, tk["pm-3"]), "myDualRegistration")
    assert mine["current"]["communityId"] == str(ids["C2"]) and mine["pending"] is None
    assert [(h["status"], h["communityId"]) for h in mine["history"]] == [
        ("APPROVED", str(ids["C2"])), ("MOVED", str(ids["C1"]))]
    assert mine["history"][1]["endsOn"] is not None
    async with tenant_transaction(w.t.id):
        new = await MemberRegistration.get(id=int(moved["databaseId"]))
        assert new.skills == ["driver"] and new.work_unit_id == ids["U1"]
        assert await MemberPost.filter(person_id=ids["pm-3"], ends_on=None).count() == 0
    # C1 keeps the history in its list; a rejected move leaves the approved registration as it was.
    listed = await gql('query($c: ID) { memberRegistrations(communityId: $c, status: MOVED) { totalCount } }',
                       tk["cw-1"], {"c": str(ids["C1"])})
    assert listed["data"]["memberRegistrations"]["totalCount"] == 1
    back = _data(await gql(MOVE, tk["pm-3"], {"id": moved["id"], "c": str(ids["C1"])}), "moveRegistration")
    assert codes(await gql(REJECT, tk["cw-1"], {"id": back["id"], "r": " "})) == ["INVALID_INPUT"]
    assert _data(await gql(REJECT, tk["cw-1"], {"id": back["id"], "r": "已在原社区"}), "rejectMemberRegistration") == {
        "status": "REJECTED", "reason": "已在原社区"}
    assert _data(await gql(MINE, tk["pm-3"]), "myDualRegistration")["current"]["communityId"] == str(ids["C2"])


async def test_two_submissions_at_once_one_wins_and_two_claims_of_one_building_one_wins(dual_world):
    w, ids = dual_world, dual_world.ids
    details = registrations.Details(party_org="党支部", work_unit_id=ids["U1"])

    async def submit(who: str) -> object:
        try:
            async with tenant_transaction(w.t.id):
                return await registrations.register_member(access=w.caller(who), actor=who, community_id=ids["C2"],
                                                           details=details, person_id=ids["pm-2"])
        except Conflict as e:
            return e

    got = await asyncio.gather(submit("so-1"), submit("cw-2"))
    assert sorted(type(g).__name__ for g in got) == ["Conflict", "MemberRegistration"]
    # pm-1 (C1) and pm-3 (no household, at C1) both approved, both try to head B2 online at once.
    async with tenant_transaction(w.t.id):
        for who in ("pm-1", "pm-3"):
            reg = await registrations.register_member(access=w.caller(who), actor=who, community_id=ids["C1"],
                                                      details=details)
            await registrations.decide(access=w.caller("cw-1"), actor="cw-1", registration_id=reg.id,
                                       action="approve")

    async def claim(who: str) -> object:
        try:
            async with tenant_transaction(w.t.id):
                return await posts.claim(access=w.caller(who), actor=who, kind="online_building_head",
                                         building_id=ids["B2"])
        except Conflict as e:
            return e

    got = await asyncio.gather(claim("pm-1"), claim("pm-3"))
    assert sorted(type(g).__name__ for g in got) == ["Conflict", "MemberPost"]
    async with tenant_transaction(w.t.id):
        assert await MemberPost.filter(building_id=ids["B2"], ends_on=None).count() == 1


async def test_hostile_input_is_a_typed_error_and_saves_nothing(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    before = await _counts(w.t)
    c1, u1 = str(ids["C1"]), str(ids["U1"])
    member = {"communityId": c1, "workUnitId": u1, "partyOrg": "党支部"}
    cases = [
        (tk["pm-1"], REG_MEMBER, {**member, "communityId": "not-an-id"}, "INVALID_INPUT"),
        (tk["pm-1"], REG_MEMBER, {**member, "communityId": str(w.other_ids["C1"])}, "NOT_FOUND"),  # another tenant's
        (tk["pm-1"], REG_MEMBER, {**member, "workUnitId": str(w.other_ids["U1"])}, "NOT_FOUND"),
        (tk["pm-1"], REG_MEMBER, {**member, "partyOrg": "党" * 201}, "INVALID_INPUT"),
        (tk["pm-1"], REG_MEMBER, {**member, "workUnitName": "两个单位"}, "INVALID_INPUT"),  # id and name
        (tk["pm-1"], REG_MEMBER, {**member, "skills": ["Bad Skill"]}, "INVALID_INPUT"),
        (tk["pm-1"], REG_MEMBER, {**member, "buildingId": str(ids["B3"])}, "NOT_FOUND"),  # C2's building
        (tk["res-1"], REG_MEMBER, member, "FORBIDDEN"),  # a resident, not a party member
        (tk["pm-1"], REG_MEMBER, {**member, "personId": str(ids["pm-2"])}, "FORBIDDEN"),  # a member, for another
        (tk["cw-1"], REG_MEMBER, {**member, "personId": str(ids["res-1"])}, "INVALID_INPUT"),  # not a member
        (tk["other_pm-1"], REG_MEMBER, member, "NOT_FOUND"),  # 临沭's member naming 双滦's community
        (tk["wu-1"], REG_UNIT, {"workUnitId": u1, "communityId": c1, "agreementFrom": "2026-05-01",
                                "agreementUntil": "2026-04-30"}, "INVALID_INPUT"),
        (tk["wu-1"], REG_UNIT, {"workUnitId": u1, "communityId": c1, "agreementFrom": "2026-05-01",
                                "resources": ["x"] * 51}, "INVALID_INPUT"),
        (tk["wu-1"], REG_UNIT, {"workUnitId": u1, "communityId": c1, "agreementFrom": "2026-05-01",
                                "resources": ["资" * 201]}, "INVALID_INPUT"),
        (tk["wu-1"], REG_UNIT, {"workUnitId": u1, "communityId": c1, "agreementFrom": "2026-05-01",
                                "resources": ["ok", "bad\x00"]}, "INVALID_INPUT"),
        (tk["pm-1"], REG_UNIT, {"workUnitId": u1, "communityId": c1, "agreementFrom": "2026-05-01"}, "FORBIDDEN"),
        (tk["cw-2"], REG_UNIT, {"workUnitId": u1, "communityId": c1, "agreementFrom": "2026-05-01"}, "FORBIDDEN"),
        (tk["pm-1"], CLAIM, {"kind": "VOLUNTEER"}, "INVALID_INPUT"),  # a volunteer post needs a role
        (tk["pm-1"], CLAIM, {"kind": "ONLINE_BUILDING_HEAD"}, "INVALID_INPUT"),  # a head post needs a building
        (tk["pm-1"], CLAIM, {"kind": "VOLUNTEER", "role": "x" * 101}, "INVALID_INPUT"),
    ]
    for token, query, i, code in cases:
        body = await gql(query, token, {"i": i})
        assert codes(body) == [code], (i, body)
    assert codes(await gql(UNIT, tk["admin"], {"i": {"code": "坏 code", "kind": "ORGAN", "name": "x"}})) == [
        "INVALID_INPUT"]
    assert codes(await gql(APPROVE, tk["cw-1"], {"id": "99999999"})) == ["NOT_FOUND"]
    assert codes(await gql(APPROVE, tk["pm-1"], {"id": "1"})) == ["FORBIDDEN"]
    assert codes(await gql(END_POST, tk["pm-1"], {"id": "WyJ4Il0="})) == ["INVALID_INPUT"]
    assert await _counts(w.t) == before


async def test_a_tenant_with_dual_registration_off_is_refused(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    async with tenant_transaction(w.t.id):
        await change_config(access=ADMIN, actor="admin", comment="off",
                            set_values={"party": {"dual_registration": {"enabled": False}}})
    body = await gql(REG_MEMBER, tk["pm-1"], {"i": {"communityId": str(ids["C1"]), "workUnitId": str(ids["U1"]),
                                                    "partyOrg": "党支部"}})
    assert codes(body) == ["NOT_ENABLED"]
    assert body["errors"][0]["extensions"]["details"] == {"feature": "party.dual_registration"}
    assert codes(await gql(COVERAGE, tk["admin"], {})) == ["NOT_ENABLED"]


@pytest.mark.parametrize("action", ["approve", "reject", "end"])
async def test_decisions_follow_the_registration_states(dual_world, action):
    w, ids = dual_world, dual_world.ids
    async with tenant_transaction(w.t.id):
        reg = await registrations.register_member(
            access=w.caller("pm-1"), actor="pm-1", community_id=ids["C1"],
            details=registrations.Details(party_org="党支部", work_unit_name="某公司"),
        )
        done = await registrations.decide(access=w.caller("so-1"), actor="so-1", registration_id=reg.id,
                                          action="reject", reason="信息不全")
    assert done.status.value == "rejected"
    async with tenant_transaction(w.t.id):
        with pytest.raises(Conflict) as refused:
            await registrations.decide(access=w.caller("cw-1"), actor="cw-1", registration_id=reg.id,
                                       action=action, reason="x")
    assert refused.value.code == "ILLEGAL_TRANSITION" and refused.value.details["status"] == "rejected"


async def test_a_retried_registration_with_its_key_is_the_first_one(dual_world, gql):
    tk, ids = dual_world.tokens, dual_world.ids
    q = """mutation($i: RegisterPartyMemberInput!, $k: String) { registerPartyMember(input: $i, idempotencyKey: $k) {
      id } }"""
    i = {"communityId": str(ids["C1"]), "workUnitId": str(ids["U1"]), "partyOrg": "党支部"}
    first = _data(await gql(q, tk["pm-1"], {"i": i, "k": "reg-pm-1"}), "registerPartyMember")
    assert _data(await gql(q, tk["pm-1"], {"i": i, "k": "reg-pm-1"}), "registerPartyMember") == first
    assert codes(await gql(q, tk["pm-1"], {"i": i, "k": "reg-pm-1-b"})) == ["CONFLICT"]  # one pending at a time
