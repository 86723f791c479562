"""Property managers through GraphQL (issue 19 part D): the edge's shape, scope and typed errors."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

HISTORY = """query($c: ID!) { contractManagers(contractId: $c) { id managerId startsOn endsOn reason successorId } }"""
ASSIGN = """mutation($in: AssignContractManagerInput!) { assignContractManager(input: $in) { managerId startsOn } }"""


async def test_candidates_name_the_managers_and_their_firm(manager_world, gql):
    w = manager_world
    body = await gql("{ eliminationCandidates(year: 2026) { managerId companyId reasons } }", w.tokens["big_admin"])
    found = body["data"]["eliminationCandidates"]
    assert len(found) == 15
    assert {c["companyId"] for c in found} == {str(w.ids["big"]["P2"])}
    assert all(c["managerId"] and c["reasons"] == ["bottom 1%"] for c in found)


async def test_history_over_graphql_and_who_sees_it(manager_world, gql):
    w = manager_world
    h = w.ids["hist"]
    rows = (await gql(HISTORY, w.tokens["admin"], {"c": str(h["contract_K2"])}))["data"]["contractManagers"]
    assert [(r["managerId"], r["startsOn"], r["endsOn"], r["reason"]) for r in rows] == [
        (str(h["A"]), "2026-01-01", "2026-07-31", ""), (str(h["B"]), "2026-08-01", None, "不胜任"),
    ]
    assert rows[0]["successorId"] == str(h["change"])
    # The firm reads its own contract's history; another firm and another tenant get NOT_FOUND, never the rows.
    own = await gql(HISTORY, w.tokens["company_p1"], {"c": str(h["contract_K2"])})
    assert len(own["data"]["contractManagers"]) == 2
    for token in (w.tokens["company_p2"], w.tokens["small_admin"]):
        refused = await gql(HISTORY, token, {"c": str(h["contract_K2"])})
        assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    managers = '{ propertyManagers { name } managerRatings(period: "2026Q3") { name score rank } }'
    assert (await gql(managers, w.tokens["company_p2"]))["data"] == {"propertyManagers": [], "managerRatings": []}
    assert (await gql(managers, w.tokens["resident"]))["data"] == {"propertyManagers": [], "managerRatings": []}
    mine = (await gql(managers, w.tokens["company_p1"]))["data"]
    assert mine["managerRatings"] == [{"name": "经理A", "score": "82.44", "rank": 1},
                                      {"name": "经理B", "score": "60.00", "rank": 2}]


async def test_hostile_input_is_a_typed_client_error(manager_world, gql):
    w = manager_world
    h = w.ids["hist"]
    bad = {"contractId": str(h["contract_K1"]), "managerId": str(h["B"]), "from": "2026-12-01",
           "reason": "撤换\u202e"}
    body = await gql(ASSIGN, w.tokens["admin"], {"in": bad})
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [("reason", "bidi")]
    for contract in ("99999999999999999999", "x'--"):
        body = await gql(ASSIGN, w.tokens["admin"], {"in": {**bad, "reason": "", "contractId": contract}})
        assert body["errors"][0]["extensions"]["code"] in ("INVALID_INPUT", "NOT_FOUND")
    decide = """mutation { decideElimination(input: {year: 99999, target: MANAGER, targetId: "1", outcome: KEPT,
      reason: "x"}) { id } }"""
    assert (await gql(decide, w.tokens["admin"]))["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    as_firm = await gql(decide.replace("99999", "2026"), w.tokens["company_p1"])
    assert as_firm["errors"][0]["extensions"]["code"] == "FORBIDDEN"
