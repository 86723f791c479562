"""Property managers through GraphQL (issue 19 part D): the edge's shape, scope and typed errors."""

from __future__ import annotations

from datetime import date

import pytest

from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import managers
from tenants.territory.parties import PropertyManager
from tests.fixtures.callers import ADMIN, bearer

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
    managers = '{ propertyManagers { nodes { name } } managerRatings(period: "2026Q3") { nodes { name score rank } } }'
    assert (await gql(managers, w.tokens["company_p2"]))["data"] == {"propertyManagers": {"nodes": []},
                                                                     "managerRatings": {"nodes": []}}
    mine = (await gql(managers, w.tokens["company_p1"]))["data"]
    assert mine["managerRatings"]["nodes"] == [{"name": "经理A", "score": "82.44", "rank": 1},
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


MANAGERS = "{ propertyManagers { nodes { name phone companyId } } }"


async def test_who_reads_managers_and_their_phones(manager_world, gql, settings):
    """parties.read_managers: the administration all (with phones); territory staff the managers of the firms
    serving their area (no phone); a firm its own (with phones); anyone else FORBIDDEN."""
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        await managers.create_manager(access=ADMIN, actor="seed", company_id=h["P2"], name="经理C", phone="13900139000")

    def token(role: Role, *scope: str) -> str:
        return bearer(settings, w.hist, role, *scope, user_id=f"{role.value}-1")

    p1 = [{"name": "经理A", "phone": "13800138000", "companyId": str(h["P1"])},
          {"name": "经理B", "phone": "13800138000", "companyId": str(h["P1"])}]
    p2 = [{"name": "经理C", "phone": "13900139000", "companyId": str(h["P2"])}]

    def hidden(rows: list[dict]) -> list[dict]:
        return [{**r, "phone": None} for r in rows]

    seen = {
        "admin": (w.tokens["admin"], p1 + p2),
        "housing": (token(Role.HOUSING_DEPT), p1 + p2),
        "street S1 (P1 serves K1, K2)": (token(Role.STREET_OFFICER, f"street:{h['S1']}"), hidden(p1)),
        "street S2 (P2 serves K3)": (token(Role.STREET_OFFICER, f"street:{h['S2']}"), hidden(p2)),
        "community C1": (token(Role.COMMUNITY_WORKER, f"community:{h['C1']}"), hidden(p1)),
        "grid G3": (token(Role.GRID_WORKER, f"grid:{h['G3']}"), hidden(p2)),
        "firm P1": (w.tokens["company_p1"], p1),
        "firm P2": (w.tokens["company_p2"], p2),
    }
    for who, (bearer_token, expected) in seen.items():
        body = await gql(MANAGERS, bearer_token)
        assert body["data"]["propertyManagers"]["nodes"] == expected, who
    for bearer_token in (w.tokens["resident"], token(Role.UNIT_STAFF), token(Role.SUPERVISOR, f"compound:{h['K1']}")):
        body = await gql(MANAGERS, bearer_token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Another tenant's administration reads none of them.
    other = (await gql(MANAGERS, w.tokens["small_admin"]))["data"]["propertyManagers"]["nodes"]
    assert not {"经理A", "经理B", "经理C"} & {m["name"] for m in other}


async def test_managers_and_ratings_are_keyset_pages(manager_world, gql):
    w = manager_world
    query = """query($after: String) { propertyManagers(first: 100, after: $after) {
        nodes { databaseId } pageInfo { hasNextPage endCursor } totalCount } }"""
    seen, after = [], None
    while True:
        got = (await gql(query, w.tokens["big_admin"], {"after": after}))["data"]["propertyManagers"]
        seen += [int(n["databaseId"]) for n in got["nodes"]]
        if not got["pageInfo"]["hasNextPage"]:
            break
        after = got["pageInfo"]["endCursor"]
    # 1,500 managers in 15 pages, every one once, by id (no silent stop at 2,000 or anywhere else).
    assert len(seen) == 1500 == len(set(seen)) and seen == sorted(seen) and got["totalCount"] == 1500
    ratings = """query($after: String) { managerRatings(period: "2026Q3", first: 2, after: $after) {
        nodes { rank score } pageInfo { hasNextPage endCursor } } }"""
    first = (await gql(ratings, w.tokens["big_admin"]))["data"]["managerRatings"]
    assert [n["rank"] for n in first["nodes"]] == [1, 2] and first["pageInfo"]["hasNextPage"]
    second = (await gql(ratings, w.tokens["big_admin"], {"after": first["pageInfo"]["endCursor"]}))["data"]
    assert [(n["rank"], n["score"]) for n in second["managerRatings"]["nodes"]] == [(3, "84.94"), (4, "84.91")]
    h = w.ids["hist"]
    by_firm = '{ propertyManagers(companyId: "' + str(h["P2"]) + '") { nodes { name } } }'
    assert (await gql(by_firm, w.tokens["admin"]))["data"]["propertyManagers"]["nodes"] == []


async def test_ids_of_the_wrong_kind_are_refused(manager_world, gql):
    w = manager_world
    h = w.ids["hist"]
    firm = _global("PropertyCompany", h["P1"])
    assign = {"contractId": str(h["contract_K1"]), "managerId": firm, "from": "2026-12-01", "reason": ""}
    body = await gql(ASSIGN, w.tokens["admin"], {"in": assign})
    assert body["errors"][0]["extensions"]["problems"][0]["reason"] == "wrong_kind"
    decide = """mutation($t: ID!, $cm: ID) { decideElimination(input: {year: 2026, target: MANAGER, targetId: $t,
      outcome: KEPT, reason: "x", contractManagerId: $cm}) { id } }"""
    for variables, field in (({"t": firm}, "targetId"),
                             ({"t": _global("PropertyManager", h["A"]), "cm": firm}, "contractManagerId")):
        body = await gql(decide, w.tokens["admin"], variables)
        problems = body["errors"][0]["extensions"]["problems"]
        assert [(p["field"], p["reason"]) for p in problems] == [(field, "wrong_kind")]


async def test_end_and_correction_over_graphql(manager_world, gql):
    w = manager_world
    h = w.ids["hist"]
    end = """mutation($in: EndContractManagerInput!) {
        endContractManager(input: $in) { managerId endsOn endReason } }"""
    body = await gql(end, w.tokens["admin"], {"in": {"contractId": str(h["contract_K1"]), "endsOn": "2026-12-05",
                                                     "reason": "离职"}})
    assert body["data"]["endContractManager"] == {"managerId": str(h["A"]), "endsOn": "2026-12-05",
                                                  "endReason": "离职"}
    refused = await gql(end, w.tokens["admin"], {"in": {"contractId": str(h["contract_K2"]), "endsOn": "2026-09-30",
                                                        "reason": ""}})
    assert refused["errors"][0]["extensions"]["problems"][0]["reason"] == "required"
    async with tenant_transaction(w.hist.id):
        assert await PropertyManager.filter(id=h["A"]).exists()


def _global(kind: str, pk: int) -> str:
    import base64

    return base64.b64encode(f"{kind}:{pk}".encode()).decode()
