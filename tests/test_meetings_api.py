"""Joint meetings through GraphQL: record a meeting with an agenda that escalates a ticket, add a decision, the
firm completes it with evidence and reads its timeline; figures and flags; hostile ids; another tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import get_args

import pytest

from api.ids import global_id_of as gid
from api.meetings.schema import MeetingParty
from tenants.config.document import MeetingParty as ConfiguredParty
from tenants.meetings import scheduled
from tenants.meetings.meetings import spelling
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tests.fixtures.callers import bearer
from tests.fixtures.statements import orm_statements

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

RECORD = """mutation($input: RecordMeetingInput!) { recordMeeting(input: $input) {
  id databaseId heldOn convenor attendance { party names } agenda { position text ticketIds escalatedAt } } }"""
DECISION = "id databaseId status dueOn ownerKind overdue escalationLevel evidence timeline { action actor note }"


def _input(w, **over):
    return {"targetKind": "COMMUNITY", "targetId": str(w.ids["C1"]), "heldOn": "2026-11-10", "convenor": "社区党委书记",
            "attendance": [{"party": "COMMUNITY_PARTY_ORG", "names": ["张书记"]},
                           {"party": "RESIDENTS_COMMITTEE", "names": ["李主任"]},
                           {"party": "OWNERS_COMMITTEE", "names": ["赵主任"]},
                           {"party": "PROPERTY_COMPANY", "names": ["王经理"]}],
            "agenda": [{"text": "楼道堆物"}, {"ticketIds": [str(w.ids["T1"])], "escalate": True}]} | over


async def test_record_decide_complete_through_graphql(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    pc1 = bearer(settings, w.t, Role.PROPERTY_COMPANY, f"company:{w.ids['P1']}", user_id="pc1")
    other = bearer(settings, w.other, Role.TENANT_ADMIN, user_id="admin")
    got = await gql(RECORD, cw1, {"input": _input(w)})
    m = got["data"]["recordMeeting"]
    assert [a["party"] for a in m["attendance"]] == [
        "COMMUNITY_PARTY_ORG", "RESIDENTS_COMMITTEE", "OWNERS_COMMITTEE", "PROPERTY_COMPANY"]
    assert m["agenda"][1]["ticketIds"] == [str(w.ids["T1"])] and m["agenda"][1]["escalatedAt"]
    added = await gql('mutation($m: ID!, $o: ID!) { addDecision(meetingId: $m, input: {ownerKind: COMPANY, '
                      f'ownerId: $o, dueOn: "2026-12-09", description: "修复屋面"}}) {{ {DECISION} }} }}', cw1,
                      {"m": m["id"], "o": str(w.ids["P1"])})
    d = added["data"]["addDecision"]
    assert (d["status"], d["ownerKind"], d["overdue"]) == ("OPEN", "COMPANY", False)
    done = await gql(f'mutation($d: ID!) {{ completeDecision(decisionId: $d, evidence: "已完成") {{ {DECISION} }} }}',
                     pc1, {"d": d["id"]})
    assert done["data"]["completeDecision"]["status"] == "DONE"
    assert [e["action"] for e in done["data"]["completeDecision"]["timeline"]] == ["added", "done"]
    seen = await gql("{ meetings { nodes { databaseId } } meetingDecisions { nodes { databaseId } } }", pc1)
    assert [n["databaseId"] for n in seen["data"]["meetings"]["nodes"]] == [m["databaseId"]]
    figures = await gql('{ issuesSettled(periodKey: "2026-12") { nodeId decisionsDone total } }', cw1)
    assert figures["data"]["issuesSettled"] == [{"nodeId": str(w.ids["C1"]), "decisionsDone": 1, "total": 1}]
    # Another tenant: the node is null, its lists do not hold ours.
    assert (await gql(f'{{ node(id: "{m["id"]}") {{ id }} }}', other))["data"]["node"] is None
    theirs = await gql("{ meetings { nodes { databaseId } } }", other)
    assert [n["databaseId"] for n in theirs["data"]["meetings"]["nodes"]] == [str(w.ids["other_meeting"])]


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_meeting(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    query = RECORD.replace("$input: RecordMeetingInput!", "$input: RecordMeetingInput!, $key: String").replace(
        "recordMeeting(input: $input)", "recordMeeting(input: $input, idempotencyKey: $key)")
    first, again = [await gql(query, cw1, {"input": _input(w, agenda=[{"text": "议题"}]), "key": "m-2026-11"})
                    for _ in range(2)]
    assert first["data"]["recordMeeting"]["id"] == again["data"]["recordMeeting"]["id"]
    seen = await gql("{ meetings { nodes { id } } }", cw1)
    assert len(seen["data"]["meetings"]["nodes"]) == 1


async def test_hostile_input_is_a_typed_client_error(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    for over in ({"targetId": "x" * 200}, {"targetId": str(2**64)}, {"convenor": "a\u202eb"},
                 {"agenda": [{"ticketIds": ["VGlja2V0OjE="[:-1]]}]}, {"photoLinks": ["javascript:alert(1)"]}):
        body = await gql(RECORD, cw1, {"input": _input(w, **over)})
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", (over, body)
    body = await gql(RECORD, cw1, {"input": _input(w, attendance=[{"party": "OWNERS_COMMITTEE", "names": ["赵"]}],
                                                   agenda=[])})
    got = body["errors"][0]["extensions"]
    assert {(p["field"], p["reason"]) for p in got["problems"]} == {("attendance", "missing_party"),
                                                                     ("agenda", "required")}
    assert got["details"] == {"missingParties": ["COMMUNITY_PARTY_ORG", "RESIDENTS_COMMITTEE", "PROPERTY_COMPANY"]}
    body = await gql(RECORD, cw1, {"input": _input(w, photoLinks=["https://img.example.cn/ok.jpg",
                                                                  "https://img.example.cn/a\u202egpj.exe"])})
    got = body["errors"][0]["extensions"]
    assert [(p["field"], p["reason"]) for p in got["problems"]] == [("photoLinks.1", "bidi")], got
    body = await gql('{ meetingComplianceFlags(periodKey: "2026-99") { nodes { targetId } } }', cw1)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_minutes_up_to_the_documented_limit(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    ok = await gql(RECORD, cw1, {"input": _input(w, agenda=[{"text": "议题"}], minutes="纪" * 15_000)})
    assert ok["data"]["recordMeeting"]["id"]
    body = await gql(RECORD, cw1, {"input": _input(w, agenda=[{"text": "议题"}], minutes="纪" * 20_001)})
    err = body["errors"][0]["extensions"]
    assert err["code"] == "INVALID_INPUT" and err["problems"][0]["field"].endswith("minutes"), err


async def test_a_global_id_must_be_of_the_kind_the_argument_names(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")

    def problem(body):
        got = body["errors"][0]["extensions"]
        return got["code"], got["problems"][0]["field"], got["problems"][0]["reason"]

    wrong = await gql(RECORD, cw1, {"input": _input(w, targetId=gid("Compound", w.ids["C1"]))})
    assert problem(wrong) == ("INVALID_INPUT", "targetId", "wrong_kind")
    listed = await gql("query($t: ID) { meetings(targetKind: COMPOUND, targetId: $t) { nodes { id } } }", cw1,
                       {"t": gid("Community", w.ids["K1"])})
    assert problem(listed) == ("INVALID_INPUT", "targetId", "wrong_kind")
    m = (await gql(RECORD, cw1, {"input": _input(w, targetId=gid("Community", w.ids["C1"]))}))["data"]["recordMeeting"]
    add = ('mutation($m: ID!, $o: ID!) { addDecision(meetingId: $m, input: {ownerKind: COMPANY, ownerId: $o, '
           'dueOn: "2026-12-09", description: "修复屋面"}) { ownerId } }')
    assert problem(await gql(add, cw1, {"m": m["id"], "o": gid("Unit", w.ids["P1"])})) == (
        "INVALID_INPUT", "ownerId", "wrong_kind")
    ok = await gql(add, cw1, {"m": m["id"], "o": gid("PropertyCompany", w.ids["P1"])})
    assert ok["data"]["addDecision"]["ownerId"] == str(w.ids["P1"])


async def test_decision_timelines_cost_the_same_for_1_and_10_decisions(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    m = (await gql(RECORD, cw1, {"input": _input(w, agenda=[{"text": "议题"}])}))["data"]["recordMeeting"]
    add = ('mutation($m: ID!, $o: ID!) { addDecision(meetingId: $m, input: {ownerKind: COMPANY, ownerId: $o, '
           'dueOn: "2026-12-09", description: "修复屋面"}) { id } }')
    query = "query($n: Int) { meetingDecisions(first: $n) { nodes { id timeline { action } } } }"

    async def cost(n: int) -> int:
        await gql(query, cw1, {"n": n})  # caches warm
        with orm_statements() as sent:
            got = await gql(query, cw1, {"n": n})
        assert [e["action"] for d in got["data"]["meetingDecisions"]["nodes"] for e in d["timeline"]] == ["added"] * n
        return len(sent)

    await gql(add, cw1, {"m": m["id"], "o": str(w.ids["P1"])})
    one = await cost(1)
    for _ in range(9):
        await gql(add, cw1, {"m": m["id"], "o": str(w.ids["P1"])})
    assert await cost(10) == one


async def test_compliance_flags_are_a_keyset_connection_showing_resolved(meeting_world, gql, settings):
    w = meeting_world
    cw1 = bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1")
    admin = bearer(settings, w.t, Role.TENANT_ADMIN, user_id="admin")
    await gql(RECORD, cw1, {"input": _input(w, agenda=[{"text": "议题"}])})
    async with tenant_transaction(w.t.id):
        assert (await scheduled.hourly(now=datetime(2026, 11, 30, 16, 30, tzinfo=UTC)))["flagged"] == 2
    query = ("query($a: String) { meetingComplianceFlags(first: 1, after: $a) { totalCount pageInfo { hasNextPage "
             "endCursor } nodes { targetId periodKey resolved resolvedAt resolvedByMeetingId } } }")
    one = (await gql(query, admin, {"a": None}))["data"]["meetingComplianceFlags"]
    two = (await gql(query, admin, {"a": one["pageInfo"]["endCursor"]}))["data"]["meetingComplianceFlags"]
    assert one["totalCount"] == 2 and one["pageInfo"]["hasNextPage"] and not two["pageInfo"]["hasNextPage"]
    assert [n["targetId"] for n in one["nodes"] + two["nodes"]] == [str(w.ids["C2"]), str(w.ids["C3"])]
    assert {(n["periodKey"], n["resolved"], n["resolvedByMeetingId"]) for n in one["nodes"] + two["nodes"]} == {
        ("2026-11", False, None)}


def test_errors_spell_parties_as_the_graphql_enum_does():
    assert {spelling(p): p for p in get_args(ConfiguredParty)} == {p.name: p.value for p in MeetingParty}
