"""Points through GraphQL and the exports: who reads whose points (a resident their own, staff their area, another
tenant nothing), manual awards and reversals, the check, and the history files."""

from __future__ import annotations

from datetime import date

import pytest

from tenants.scope import tenant_transaction
from tenants.territory.people import Person
from tests.fixtures.points import give

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))

BALANCE = "query($p: ID) { pointsBalance(personId: $p) { personId balance } }"
HISTORY = """query($p: ID, $first: Int, $after: String) { pointsHistory(personId: $p, first: $first, after: $after) {
  edges { cursor node { id databaseId kind amount ruleCode reason occurredOn } }
  pageInfo { hasNextPage endCursor } } }"""
EXPIRING = "query($p: ID, $d: Int) { pointsExpiring(personId: $p, days: $d) { amount remaining expiresOn } }"
CHECK = "{ pointsCheck { ok mismatches { personId } } }"
AWARD = """mutation($in: AwardPointsInput!) { awardPoints(input: $in) {
  capped replayed entry { databaseId kind amount reason evidence author occurredOn } } }"""
REVERSE = "mutation($in: ReversePointsAwardInput!) { reversePointsAward(input: $in) { kind amount reversesId } }"


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_awards_by_staff_in_their_area_and_reads_scoped_to_the_caller(points_world, gql):
    w, other = points_world["sanbai"], points_world["zhangjiakou"]
    bh = str(w["person"]["bh-1"])
    args = {"personId": bh, "rule": "building_head_duty", "reason": "组织楼道清理",
            "evidence": ["https://img.example.cn/a.jpg"], "idempotencyKey": "a-1"}
    done = await gql(AWARD, w["community_worker"], {"in": args})
    assert done["data"]["awardPoints"]["entry"]["amount"] == 5, done
    assert done["data"]["awardPoints"]["entry"]["author"] == "cw-1"
    again = await gql(AWARD, w["community_worker"], {"in": args})
    assert again["data"]["awardPoints"]["replayed"] is True
    assert code(await gql(AWARD, w["community_worker_c2"], {"in": {**args, "idempotencyKey": "b"}})) == "FORBIDDEN"
    assert code(await gql(AWARD, w["resident"], {"in": args})) == "FORBIDDEN"
    own = {**args, "personId": str(w["person"]["cw-1"])}
    assert code(await gql(AWARD, w["community_worker"], {"in": own})) == "FORBIDDEN"
    bad = await gql(AWARD, w["admin"], {"in": {**args, "evidence": ["javascript:alert(1)"], "idempotencyKey": "c"}})
    assert code(bad) == "INVALID_INPUT"

    # the building head reads their own, staff of C1 theirs, C2's staff and the resident next door do not
    assert (await gql(BALANCE, w["bh"]))["data"]["pointsBalance"]["balance"] == 5
    assert (await gql(BALANCE, w["community_worker"], {"p": bh}))["data"]["pointsBalance"]["balance"] == 5
    for token in (w["community_worker_c2"], w["resident"], other["admin"]):
        assert code(await gql(BALANCE, token, {"p": bh})) == "NOT_FOUND"
        assert code(await gql(HISTORY, token, {"p": bh})) == "NOT_FOUND"
    assert (await gql(BALANCE, w["resident"]))["data"]["pointsBalance"]["balance"] == 0
    assert (await gql(HISTORY, other["admin"]))["errors"]  # no person on file for that admin
    assert (await gql(CHECK, other["admin"]))["data"]["pointsCheck"] == {"ok": True, "mismatches": []}


async def test_history_pages_newest_first_and_a_reversal(points_world, gql):
    w = points_world["sanbai"]
    for i in range(3):
        await give(w["tenant"].id, "bh-1", "building_head_duty", f"h{i}", date(2026, 3, 2))
    first = await gql(HISTORY, w["bh"], {"first": 2})
    page = first["data"]["pointsHistory"]
    assert [e["node"]["kind"] for e in page["edges"]] == ["CAPPED", "AWARD"] and page["pageInfo"]["hasNextPage"]
    rest = await gql(HISTORY, w["bh"], {"first": 2, "after": page["pageInfo"]["endCursor"]})
    oldest = rest["data"]["pointsHistory"]["edges"]
    assert [e["node"]["amount"] for e in oldest] == [5]
    entry_id = oldest[0]["node"]["id"]
    assert code(await gql(REVERSE, w["community_worker_c2"], {"in": {"entryId": entry_id, "reason": "x"}})) == (
        "NOT_FOUND"
    )
    done = await gql(REVERSE, w["community_worker"], {"in": {"entryId": entry_id, "reason": "重复记分"}})
    assert done["data"]["reversePointsAward"] == {"kind": "REVERSAL", "amount": -5,
                                                  "reversesId": oldest[0]["node"]["databaseId"]}
    capped_id = page["edges"][0]["node"]["id"]
    assert code(await gql(REVERSE, w["admin"], {"in": {"entryId": capped_id, "reason": "x"}})) == "CONFLICT"
    assert (await gql(BALANCE, w["bh"]))["data"]["pointsBalance"]["balance"] == 5
    assert (await gql(CHECK, w["admin"]))["data"]["pointsCheck"]["ok"] is True
    assert code(await gql(CHECK, w["community_worker"])) == "FORBIDDEN"


async def test_expiring_soon_lists_live_lots_within_the_window(points_world, gql):
    w = points_world["sanbai"]
    await give(w["tenant"].id, "bh-1", "building_head_duty", "e1", date(2026, 1, 10))  # expires 2027-01-10
    await give(w["tenant"].id, "bh-1", "building_head_duty", "e2", date(2026, 6, 1))  # expires 2027-06-01
    got = (await gql(EXPIRING, w["bh"], {"d": 60}))["data"]["pointsExpiring"]
    assert got == [{"amount": 5, "remaining": 5, "expiresOn": "2027-01-10"}]
    assert (await gql(EXPIRING, w["bh"]))["data"]["pointsExpiring"] == []  # 7 days by default
    assert code(await gql(EXPIRING, w["bh"], {"d": 0})) == "INVALID_INPUT"


async def test_history_exports_are_scoped(points_world, client):
    w, other = points_world["sanbai"], points_world["zhangjiakou"]
    await give(w["tenant"].id, "bh-1", "building_head_duty", "x1", date(2026, 3, 2))
    await give(w["tenant"].id, "res-1", "activity", "x2", date(2026, 3, 2))
    bh, grid = w["person"]["bh-1"], w["ids"]["G1"]

    async def get(path: str, token: str):
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})

    own = await get(f"/exports/points/person/{bh}.csv", w["bh"])
    assert own.status_code == 200 and own.headers["content-type"].startswith("text/csv")
    text = own.content.decode("utf-8-sig")
    assert "building_head_duty" in text and "奖励 award" in text
    assert (await get(f"/exports/points/person/{bh}.csv", w["resident"])).status_code == 404
    assert (await get(f"/exports/points/person/{bh}.csv", other["admin"])).status_code == 404
    sheet = await get(f"/exports/points/grid/{grid}.xlsx", w["community_worker"])
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    csv = (await get(f"/exports/points/grid/{grid}.csv", w["community_worker"])).content.decode("utf-8-sig")
    assert "bh-1" in csv and "res-1" in csv and "activity" in csv
    assert (await get(f"/exports/points/grid/{grid}.csv", w["resident"])).status_code == 403
    assert (await get(f"/exports/points/grid/{grid}.csv", other["admin"])).status_code == 404
    assert (await get(f"/exports/points/grid/{grid}.pdf", w["admin"])).status_code == 400
    assert (await client.get(f"/exports/points/grid/{grid}.csv")).status_code == 401


async def test_staff_read_their_own_points_though_they_live_outside_their_area(gql, points_world):
    """cw-2 works for community C2 and lives in H1 (community C1): their own history is theirs to read."""
    w = points_world["sanbai"]
    t, ids = w["tenant"], w["ids"]
    async with tenant_transaction(t.id):
        await Person.filter(user_id="cw-2").update(household_id=ids["H1"], is_party_member=True)
    await give(t.id, "cw-2", "volunteer_service", "own", date(2026, 11, 20))
    mine = await gql("{ pointsHistory(first: 5) { edges { node { amount } } } }", w["community_worker_c2"])
    assert [e["node"]["amount"] for e in mine["data"]["pointsHistory"]["edges"]] == [5]
