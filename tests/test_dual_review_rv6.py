"""双报到 review rv6: staff register only the people they read (no id oracle), a move off another area's approved
registration is the member's or a tenant admin's, and free text refuses bidi controls everywhere."""

from __future__ import annotations

from tenants.scope import tenant_transaction
from tenants.territory.people import Person
from tests.conftest import codes

REG = """mutation($c: ID!, $p: ID) { registerPartyMember(input: {communityId: $c, personId: $p, partyOrg: "某党支部",
  workUnitName: "x"}) { id status } }"""
APPROVE = "mutation($i: ID!) { approveMemberRegistration(id: $i) { status } }"
MINE = "{ myDualRegistration { current { communityId status } pending { communityId } } }"


def _data(body: dict, name: str) -> dict:
    assert "errors" not in body, body
    return body["data"][name]


async def test_staff_register_only_people_they_read_and_every_other_id_is_not_found(dual_world, gql):
    w, tk, ids = dual_world, dual_world.tokens, dual_world.ids
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
