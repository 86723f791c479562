"""Needs 需求清单 and projects 项目清单: staff publish in their community, registered units and members claim (one
claim each, slots held under concurrency), a claim goes claimed -> submitted -> returned -> submitted -> accepted
with evidence, staff close the item; hostile input and another tenant get typed errors."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from tenants import clock
from tenants.dual import lists
from tenants.dual.list_models import ClaimStatus, DualClaim, DualItem
from tenants.errors import DomainError
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.models import Community
from tests.fixtures.callers import bearer
from tests.fixtures.dual_lists import MEMBERS_C1

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

CLAIM = "id status claimedBy workUnitId personId evidence note reason"


def _code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def _act(w, fn, who: str, **kw):
    async with tenant_transaction(w.t.id):
        return await fn(access=w.caller(who), actor=who, **kw)


async def _error(w, fn, who: str, **kw) -> str:
    with pytest.raises(DomainError) as err:
        await _act(w, fn, who, **kw)
    return err.value.code


async def _publish(w, who: str = "cw1", **kw) -> DualItem:
    kw.setdefault("community_id", w.ids["C1"])
    return await _act(w, lists.publish_item, who, kind=kw.pop("kind", "need"), title=kw.pop("title", "楼道清理"),
                      description=kw.pop("description", "清理1号楼楼道杂物"), **kw)


async def test_publish_claim_complete_return_accept_close_through_graphql(list_world, gql, settings):
    w = list_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    pm1 = bearer(settings, w.t, Role.PARTY_MEMBER, user_id="pm1")
    pm2 = bearer(settings, w.t, Role.PARTY_MEMBER, user_id="pm2")
    wu1 = bearer(settings, w.t, Role.WORK_UNIT_CONTACT, f"work_unit:{w.ids['W1']}", user_id="wu1")
    published = await gql(
        'mutation($c: ID!) { publishDualItem(input: {communityId: $c, kind: PROJECT, title: "垃圾分类宣传", '
        'description: "周末入户宣传", slots: 2}, idempotencyKey: "pub-1") { id kind status slots claimedCount } }',
        cw1, {"c": str(w.ids["C1"])},
    )
    item = published["data"]["publishDualItem"]
    assert (item["kind"], item["status"], item["slots"], item["claimedCount"]) == ("PROJECT", "OPEN", 2, 0)
    claim_q = "mutation($i: ID!, $u: ID) { claimDualItem(id: $i, workUnitId: $u) { CLAIM } }".replace("CLAIM", CLAIM)
    mine = (await gql(claim_q, pm1, {"i": item["id"]}))["data"]["claimDualItem"]
    assert (mine["status"], mine["personId"], mine["workUnitId"]) == ("CLAIMED", str(w.ids["pm1"]), None)
    unit = (await gql(claim_q, wu1, {"i": item["id"], "u": str(w.ids["W1"])}))["data"]["claimDualItem"]
    assert (unit["workUnitId"], unit["claimedBy"]) == (str(w.ids["W1"]), "wu1")
    assert _code(await gql(claim_q, pm2, {"i": item["id"]})) == "SLOTS_FULL"
    assert _code(await gql(claim_q, pm1, {"i": item["id"]})) == "ALREADY_CLAIMED"

    complete = ('mutation($c: ID!) { completeDualClaim(id: $c, evidence: ["https://img.cn/1.jpg"], note: "done") '
                "{ CLAIM } }").replace("CLAIM", CLAIM)
    assert _code(await gql(complete, wu1, {"c": mine["id"]})) in ("NOT_FOUND", "FORBIDDEN")  # not wu1's claim
    assert (await gql(complete, pm1, {"c": mine["id"]}))["data"]["completeDualClaim"]["status"] == "SUBMITTED"
    returned = await gql('mutation($c: ID!) { returnDualClaim(id: $c, reason: "缺少照片") { CLAIM } }'.replace(
        "CLAIM", CLAIM), cw1, {"c": mine["id"]})
    assert (returned["data"]["returnDualClaim"]["status"], returned["data"]["returnDualClaim"]["reason"]) == (
        "RETURNED", "缺少照片")
    assert (await gql(complete, pm1, {"c": mine["id"]}))["data"]["completeDualClaim"]["status"] == "SUBMITTED"
    accepted = await gql('mutation($c: ID!) { acceptDualClaim(id: $c) { status } }', cw1, {"c": mine["id"]})
    assert accepted["data"]["acceptDualClaim"]["status"] == "ACCEPTED"
    again = await gql('mutation($c: ID!) { acceptDualClaim(id: $c) { status } }', cw1, {"c": mine["id"]})
    assert _code(again) == "ILLEGAL_TRANSITION"

    listed = await gql("{ dualClaims(mine: true) { nodes { id status } } }", pm1)
    assert listed["data"]["dualClaims"]["nodes"] == [{"id": mine["id"], "status": "ACCEPTED"}]
    staff = await gql('query($i: ID) { dualClaims(itemId: $i) { totalCount nodes { id } } }', cw1, {"i": item["id"]})
    assert staff["data"]["dualClaims"]["totalCount"] == 2
    closed = await gql('mutation($i: ID!) { closeDualItem(id: $i) { status claimedCount } }', cw1, {"i": item["id"]})
    assert closed["data"]["closeDualItem"] == {"status": "CLOSED", "claimedCount": 2}
    items = await gql("{ dualItems(kind: PROJECT, status: CLOSED) { nodes { id } } }", pm1)
    assert [n["id"] for n in items["data"]["dualItems"]["nodes"]] == [item["id"]]
    assert (await gql("{ dualItems { nodes { id } } }", bearer(settings, w.t, Role.PARTY_MEMBER, user_id="pm9"))
            )["data"]["dualItems"]["nodes"] == []  # C3's member: not C1's lists


async def test_slots_hold_when_five_members_claim_two_slots_at_once(list_world):
    w = list_world
    item = await _publish(w, slots=2)

    async def one(who):
        try:
            return await _act(w, lists.claim_item, who, item_id=item.id)
        except DomainError as exc:
            return exc.code

    got = await asyncio.gather(*(one(m) for m in MEMBERS_C1))
    assert sorted(g if isinstance(g, str) else "claimed" for g in got) == ["SLOTS_FULL"] * 3 + ["claimed"] * 2
    async with tenant_transaction(w.t.id):
        assert (await DualItem.get(id=item.id)).claimed_count == 2
        assert await DualClaim.filter(item_id=item.id, status=ClaimStatus.CLAIMED).count() == 2


async def test_an_idempotency_key_replays_the_claim_and_unlimited_items_take_everyone(list_world):
    w = list_world
    item = await _publish(w, kind="need")
    first = await _act(w, lists.claim_item, "pm1", item_id=item.id, idempotency_key="k-1")
    again = await _act(w, lists.claim_item, "pm1", item_id=item.id, idempotency_key="k-1")
    assert again.id == first.id
    for m in MEMBERS_C1[1:]:
        await _act(w, lists.claim_item, m, item_id=item.id)
    async with tenant_transaction(w.t.id):
        assert (await DualItem.get(id=item.id)).claimed_count == len(MEMBERS_C1)


async def test_hostile_and_out_of_place_requests_get_typed_errors(list_world, gql, settings):
    w = list_world
    assert await _error(w, lists.publish_item, "cw3", community_id=w.ids["C1"], kind="need", title="t",
                        description="d") == "FORBIDDEN"  # C3's worker publishes for C3 only
    assert await _error(w, lists.publish_item, "pm1", community_id=w.ids["C1"], kind="need", title="t",
                        description="d") == "FORBIDDEN"
    assert await _error(w, lists.publish_item, "so2", community_id=w.ids["C1"], kind="need", title="t",
                        description="d") == "FORBIDDEN"  # S2's officer: C1 is S1's
    for kw in ({"title": "x" * 201}, {"description": ""}, {"kind": "wish"}, {"slots": 0}, {"slots": 10**6},
               {"due_on": date(2020, 1, 1)}, {"title": "a\udc00"}):
        assert await _error(w, lists.publish_item, "cw1", **{"community_id": w.ids["C1"], "kind": "need",
                                                             "title": "t", "description": "d", **kw}) \
            == "INVALID_INPUT", kw
    other_c1 = await _other_community(w)
    assert await _error(w, lists.publish_item, "cw1", community_id=other_c1, kind="need", title="t",
                        description="d") == "NOT_FOUND"
    item = await _publish(w, due_on=date(2026, 12, 31))
    assert await _error(w, lists.claim_item, "pm_pending", item_id=item.id) == "NOT_FOUND"  # pending: not yet
    assert await _error(w, lists.claim_item, "wu1", item_id=item.id, work_unit_id=w.ids["W1"] + 999) \
        == "NOT_REGISTERED"
    claim = await _act(w, lists.claim_item, "pm1", item_id=item.id)
    for links in ([], ["javascript:alert(1)"], ["data:text/html,x"], ["https://a.cn/" + "x" * 600]):
        assert await _error(w, lists.complete_claim, "pm1", claim_id=claim.id, evidence=links) \
            == "INVALID_INPUT", links
    assert await _error(w, lists.accept_claim, "cw1", claim_id=claim.id) == "ILLEGAL_TRANSITION"  # not submitted
    assert await _error(w, lists.return_claim, "cw1", claim_id=claim.id, reason="") == "INVALID_INPUT"
    assert await _error(w, lists.accept_claim, "cw3", claim_id=claim.id) == "NOT_FOUND"
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    body = await gql('mutation { publishDualItem(input: {communityId: "99999999999999999999", kind: NEED, '
                     'title: "t", description: "d"}) { id } }', cw1)
    assert _code(body) == "INVALID_INPUT"


async def _other_community(w) -> int:
    async with tenant_transaction(w.other.id):
        return (await Community.all().order_by("id").first()).id


async def test_another_tenant_reads_and_claims_nothing(list_world, gql, settings):
    w = list_world
    item = await _publish(w)
    other = bearer(settings, w.other, Role.TENANT_ADMIN, user_id="admin")
    assert (await gql("{ dualItems { nodes { id } } }", other))["data"]["dualItems"]["nodes"] == []
    assert (await gql("{ dualClaims { nodes { id } } }", other))["data"]["dualClaims"]["nodes"] == []
    assert _code(await gql(f'mutation {{ closeDualItem(id: "{item.id}") {{ id }} }}', other)) == "NOT_FOUND"
    async with tenant_transaction(w.other.id):
        assert await DualItem.filter(id=item.id).count() == 0


async def _as(w, fn, access, **kw):
    async with tenant_transaction(w.t.id):
        return await fn(access=access, actor=access.user_id, **kw)


async def _refused(w, fn, access, **kw) -> tuple[str, str | None]:
    with pytest.raises(DomainError) as err:
        await _as(w, fn, access, **kw)
    return err.value.code, err.value.details.get("reason")


async def test_staff_do_not_accept_or_return_their_own_units_claim(list_world):
    w = list_world
    item = await _publish(w)
    both = w.both("cw1", "wu1")  # C1's worker is also W1's contact
    claim = await _as(w, lists.claim_item, both, item_id=item.id, work_unit_id=w.ids["W1"])
    await _as(w, lists.complete_claim, both, claim_id=claim.id, evidence=["https://a.cn/1"])
    assert await _refused(w, lists.accept_claim, both, claim_id=claim.id) == ("FORBIDDEN", "own_claim")
    assert await _refused(w, lists.return_claim, both, claim_id=claim.id, reason="重做") == ("FORBIDDEN", "own_claim")
    assert (await _act(w, lists.accept_claim, "admin", claim_id=claim.id)).status \
        == ClaimStatus.ACCEPTED


async def test_withdrawn_and_cancelled_claims_free_their_slot_and_the_claimant_may_claim_again(list_world, gql,
                                                                                               settings):
    w = list_world
    item = await _publish(w, slots=1)
    first = await _act(w, lists.claim_item, "pm1", item_id=item.id)
    assert await _error(w, lists.claim_item, "pm2", item_id=item.id) == "SLOTS_FULL"
    assert await _error(w, lists.withdraw_claim, "pm2", claim_id=first.id) in ("FORBIDDEN", "NOT_FOUND")
    assert (await _act(w, lists.withdraw_claim, "pm1", claim_id=first.id, reason="时间冲突")).status \
        == ClaimStatus.WITHDRAWN
    second = await _act(w, lists.claim_item, "pm2", item_id=item.id)
    await _act(w, lists.complete_claim, "pm2", claim_id=second.id, evidence=["https://a.cn/1"])
    assert await _error(w, lists.withdraw_claim, "pm2", claim_id=second.id) == "ILLEGAL_TRANSITION"  # submitted
    assert await _error(w, lists.cancel_claim, "cw1", claim_id=second.id, reason=" ") == "INVALID_INPUT"
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    body = await gql(f'mutation {{ cancelDualClaim(id: "{second.id}", reason: "长期未完成") {{ status reason }} }}',
                     cw1)
    assert body["data"]["cancelDualClaim"] == {"status": "CANCELLED", "reason": "长期未完成"}
    again = await _act(w, lists.claim_item, "pm1", item_id=item.id)  # the one-claim rule counts live claims only
    assert await _error(w, lists.cancel_claim, "cw1", claim_id=first.id, reason="x") == "ILLEGAL_TRANSITION"
    async with tenant_transaction(w.t.id):
        assert (await DualItem.get(id=item.id)).claimed_count == 1
        assert [c.status for c in await DualClaim.filter(item_id=item.id).order_by("id")] == [
            ClaimStatus.WITHDRAWN, ClaimStatus.CANCELLED, ClaimStatus.CLAIMED]
    assert again.claimant == f"person:{w.ids['pm1']}"


async def test_past_due_items_refuse_claims_and_evidence_links_are_real_links(list_world, gql, settings):
    w = list_world
    async with tenant_transaction(w.t.id):
        today, now = await clock.today(), clock.now()
    item = await _publish(w, due_on=today)
    with pytest.raises(DomainError) as late:
        await _act(w, lists.claim_item, "pm1", item_id=item.id, now=now + timedelta(days=1))
    assert (late.value.code, late.value.details["reason"]) == ("CONFLICT", "past_due")
    claim = await _act(w, lists.claim_item, "pm1", item_id=item.id)  # the due day itself is still open
    for links, reason in ((["https://localhost/a"], "not_a_link"), (["https://a.cn:70000/x"], "not_a_link"),
                          (['https://a.cn/"x'], "not_a_link"), (["https://a.cn/<b>"], "not_a_link"),
                          (["https://a..cn/x"], "not_a_link"), (["https://a.cn/\udc00"], "surrogate"),
                          (["https://a.cn/a\x07"], "control")):
        with pytest.raises(DomainError) as bad:
            await _act(w, lists.complete_claim, "pm1", claim_id=claim.id, evidence=links)
        assert (bad.value.code, bad.value.problems[0].reason) == ("INVALID_INPUT", reason), links
    with pytest.raises(DomainError) as note:
        await _act(w, lists.complete_claim, "pm1", claim_id=claim.id, evidence=["https://a.cn/1"], note="x\x1b[2J")
    assert note.value.problems[0].reason == "control"
    done = await _act(w, lists.complete_claim, "pm1", claim_id=claim.id,
                      evidence=["https://img.example.cn:8443/相片/1.jpg?x=1"], note="第一行\n第二行")
    assert done.status == ClaimStatus.SUBMITTED
    # Who published it: the staff user id for staff, "staff" for a member.
    query = "{ dualItems { nodes { databaseId createdBy } } }"
    pm1 = bearer(settings, w.t, Role.PARTY_MEMBER, user_id="pm1")
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    assert {n["createdBy"] for n in (await gql(query, pm1))["data"]["dualItems"]["nodes"]} == {"staff"}
    assert {n["createdBy"] for n in (await gql(query, cw1))["data"]["dualItems"]["nodes"]} == {"cw1"}
