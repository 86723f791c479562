"""双报到 review rv6: staff register only the people they read (no id oracle), a move off another area's approved
registration is the member's or a tenant admin's, and free text refuses bidi controls everywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tenants import clock
from tenants.dual import activities, emergency, lists, registrations, signups, talks, units, wishes
from tenants.dual.models import MemberRegistration, Signup
from tenants.dual.rule_models import AbsenceCase, CaseKind
from tenants.errors import InvalidInput
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.people import Person
from tests.conftest import codes
from tests.fixtures.callers import bearer
from tests.fixtures.dual_activities import activity, member

REG = """mutation($c: ID!, $p: ID) { registerPartyMember(input: {communityId: $c, personId: $p, partyOrg: "某党支部",
  workUnitName: "x"}) { id status } }"""
APPROVE = "mutation($i: ID!) { approveMemberRegistration(id: $i) { status } }"
MINE = "{ myDualRegistration { current { communityId status } pending { communityId } } }"


def _data(body: dict, name: str) -> dict:
    assert "errors" not in body, body
    return body["data"][name]


async def test_staff_register_only_people_they_read_and_every_other_id_is_not_found(dual_world, gql):
    tk, ids = dual_world.tokens, dual_world.ids
    mine = _data(await gql(REG, tk["pm-3"], {"c": str(ids["C1"])}), "registerPartyMember")
    _data(await gql(APPROVE, tk["cw-1"], {"i": mine["id"]}), "approveMemberRegistration")
    # so-2 (S2: C3) reads none of these: pm-3 (no household), staff, pm-1 and res-1 (C1), an unknown id.
    probes = [await gql(REG, tk["so-2"], {"c": str(ids["C3"]), "p": str(p)})
              for p in (ids["pm-3"], ids["so-1"], ids["cw-1"], ids["wu-1"], ids["pm-1"], ids["res-1"], 99999999)]
    assert [codes(b) for b in probes] == [["NOT_FOUND"]] * 7
    assert len({b["errors"][0]["extensions"].get("field") for b in probes}) == 1
    assert codes(await gql(REG, tk["cw-1"], {"c": str(ids["C1"]), "p": str(ids["pm-3"])})) == ["NOT_FOUND"]
    assert _data(await gql(MINE, tk["pm-3"]), "myDualRegistration") == {
        "current": {"communityId": str(ids["C1"]), "status": "APPROVED"}, "pending": None}
    # A tenant admin registers a person without a household (here: a move to C3, approved by C3's street).
    move = _data(await gql(REG, tk["admin"], {"c": str(ids["C3"]), "p": str(ids["pm-3"])}), "registerPartyMember")
    assert _data(await gql(APPROVE, tk["so-2"], {"i": move["id"]}), "approveMemberRegistration")["status"] == (
        "APPROVED")


async def test_a_move_off_another_areas_registration_is_the_members_or_an_admins(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    first = _data(await gql(REG, tk["cw-1"], {"c": str(ids["C1"]), "p": str(ids["pm-1"])}), "registerPartyMember")
    _data(await gql(APPROVE, tk["cw-1"], {"i": first["id"]}), "approveMemberRegistration")
    async with tenant_transaction(w.t.id):  # pm-1 moves house from H1 (C1) to H3 (C2)
        await Person.filter(id=ids["pm-1"]).update(household_id=ids["H3"])
    assert codes(await gql(REG, tk["cw-2"], {"c": str(ids["C2"]), "p": str(ids["pm-1"])})) == ["FORBIDDEN"]
    assert _data(await gql(MINE, tk["pm-1"]), "myDualRegistration")["pending"] is None
    # so-1's street holds both communities; the member themselves may always move.
    moved = _data(await gql(REG, tk["so-1"], {"c": str(ids["C2"]), "p": str(ids["pm-1"])}), "registerPartyMember")
    assert moved["status"] == "PENDING"


def _calls(ids: dict, talk_id: int) -> dict:
    """Every 双报到 entry point taking free text or links, with a bidi control character in one of them."""
    c1 = ids["C1"]
    return {
        "postWish": lambda a: wishes.post_wish(access=a, actor="admin", title="灯\u200f泡", description="d"),
        "fulfilWish": lambda a: wishes.fulfil_wish(access=a, actor="admin", wish_id=1, evidence=["http://a.b/\u202ex"]),
        "fulfilWish.note": lambda a: wishes.fulfil_wish(access=a, actor="admin", wish_id=1, evidence=["http://a.b/x"],
                                                        note="\u2067n\u2069"),
        "cancelWish": lambda a: wishes.cancel_wish(access=a, actor="admin", wish_id=1, reason="\u061cr"),
        "publishDualItem": lambda a: lists.publish_item(access=a, actor="admin", community_id=c1, kind="need",
                                                        title="t\u200e", description="d"),
        "completeClaim": lambda a: lists.complete_claim(access=a, actor="admin", claim_id=1,
                                                        evidence=["https://a.b/\u200fx"]),
        "returnClaim": lambda a: lists.return_claim(access=a, actor="admin", claim_id=1, reason="r\u202e"),
        "startEmergency": lambda a: emergency.start(access=a, actor="admin", reason="\u200fx", community_id=c1),
        "recordTalkOutcome": lambda a: talks.record_outcome(access=a, actor="admin", talk_id=talk_id,
                                                            outcome="\u061c谈过", held_on=date(2026, 12, 1)),
        "createWorkUnit": lambda a: units.create_work_unit(access=a, actor="admin", kind="enterprise", code="X1",
                                                           name="n", contact_name="\u200e张"),
        "updateWorkUnit": lambda a: units.update_work_unit(access=a, actor="admin", work_unit_id=ids["U1"],
                                                           party_org="\u200f党支部"),
        "registerPartyMember": lambda a: registrations.register_member(
            access=a, actor="admin", community_id=c1, person_id=ids["pm-1"],
            details=registrations.Details(party_org="\u200e党支部", work_unit_name="x")),
        "createActivity": lambda a: activities.create(access=a, actor="admin", community_id=c1, title="\u200fabc",
                                                      kind="cleanup", starts_at=None, ends_at=None, capacity=None),
    }


async def test_every_free_text_and_link_refuses_bidi_controls(dual_world):
    w = dual_world
    async with tenant_transaction(w.t.id):
        reg = await MemberRegistration.create(person_id=w.ids["pm-1"], community_id=w.ids["C1"], street_id=w.ids["S1"],
                                              party_org="p", status="approved", created_by="t", created_at=clock.now())
        talk = await AbsenceCase.create(
            kind=CaseKind.TALK, person_id=w.ids["pm-1"], registration_id=reg.id, community_id=w.ids["C1"],
            street_id=w.ids["S1"], signup_id=1, activity_id=1, absent_at=clock.now(), absences=3,
            opened_on=date(2026, 11, 30), created_at=clock.now())
    anyone = replace(w.caller("admin"), roles=frozenset({Role.TENANT_ADMIN, Role.PARTY_MEMBER, Role.RESIDENT,
                                                         Role.WORK_UNIT_CONTACT}))  # passes every role check
    for name, call in _calls(w.ids, talk.id).items():
        async with tenant_transaction(w.t.id):
            with pytest.raises(InvalidInput) as got:
                await call(anyone)
        assert "bidi" in {p.reason for p in got.value.problems}, name


@pytest.mark.parametrize("phone", ["abc", "１３８００１３８０００", "138 0013 8000\u202e", "12", "+86--", "1" * 25])
async def test_work_unit_phones_are_phone_numbers(dual_world, gql, phone):
    w, tk = dual_world, dual_world.tokens
    body = await gql("mutation($id: ID!, $p: String) { updateWorkUnit(id: $id, input: {contactPhone: $p}) { name } }",
                     tk["admin"], {"id": str(w.ids["U1"]), "p": phone})
    assert codes(body) == ["INVALID_INPUT"], body
    async with tenant_transaction(w.t.id):
        with pytest.raises(InvalidInput):
            await units.create_work_unit(access=w.caller("admin"), actor="admin", kind="enterprise", code="X1",
                                         name="n", contact_phone=phone)
    for good in ("13800138000", "0539-1234567-8001", "+86 138 0013 8000", ""):
        async with tenant_transaction(w.t.id):
            await units.update_work_unit(access=w.caller("admin"), actor="admin", work_unit_id=w.ids["U1"],
                                         contact_phone=good)


async def test_members_read_staff_user_ids_as_staff_and_their_own_check_in_as_theirs(activity_world, gql):
    w = activity_world["sanbai"]
    a = await activity(w["tenant"].id, w["ids"]["C1"])
    async with tenant_transaction(w["tenant"].id):
        await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
        marked = Signup.filter(activity_id=a.id)
        await marked.update(attendance="present", checked_in_by="cw-1", checked_in_at=clock.now())
    mine = '{ myActivities { nodes { signup { checkedInBy } activity { createdBy } } } }'
    staff_view = """query($i: ID!) { activityAttendance(id: $i) { nodes { checkedInBy } }
      activities { nodes { createdBy } } }"""
    assert (await gql(mine, w["members"]["m-1"]))["data"]["myActivities"]["nodes"] == [
        {"signup": {"checkedInBy": "staff"}, "activity": {"createdBy": "staff"}}]
    seen = (await gql(staff_view, w["community_worker"], {"i": str(a.id)}))["data"]
    assert seen["activityAttendance"]["nodes"] == [{"checkedInBy": "cw-1"}]
    assert {"createdBy": a.created_by} in seen["activities"]["nodes"] and a.created_by != "staff"
    async with tenant_transaction(w["tenant"].id):
        await marked.update(checked_in_by="m-1")  # checked in with the code
    assert (await gql(mine, w["members"]["m-1"]))["data"]["myActivities"]["nodes"][0]["signup"] == {
        "checkedInBy": "m-1"}


async def test_work_group_phones_are_for_the_communitys_staff_only(emergency_world, gql, settings):
    w = emergency_world
    async with tenant_transaction(w.t.id):
        await Person.filter(id=w.ids["m-medic"]).update(phone="13800000001")
    q = "query($c: ID!) { workGroups(communityId: $c) { groups { members { name phone } } } }"

    async def phones(token: str) -> set[str]:
        body = await gql(q, token, {"c": str(w.ids["C1"])})
        return {m["phone"] for g in body["data"]["workGroups"]["groups"] for m in g["members"]}

    housing = bearer(settings, w.t, Role.HOUSING_DEPT, user_id="hd")
    assert "13800000001" in await phones(w.tokens["cw-1"])
    assert "13800000001" in await phones(w.tokens["admin"])
    assert await phones(housing) == {""}


async def test_a_work_units_contact_is_for_staff_and_its_own_contact(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
    async with tenant_transaction(w.t.id):
        for unit in ("U1", "U2"):
            await units.update_work_unit(access=w.caller("admin"), actor="admin", work_unit_id=ids[unit],
                                         contact_name="张三", contact_phone="13800138000")
    q = "{ workUnits { nodes { code contactName contactPhone } } }"

    async def contacts(who: str) -> list[tuple[str, str]]:
        nodes = (await gql(q, tk[who]))["data"]["workUnits"]["nodes"]
        return sorted((n["contactName"], n["contactPhone"]) for n in nodes)

    full = ("张三", "13800138000")
    assert await contacts("admin") == await contacts("cw-1") == [full, full]
    assert await contacts("wu-1") == [("", ""), full]  # U1's contact: U1's only
    assert await contacts("pm-1") == [("", ""), ("", "")]
