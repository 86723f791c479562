"""Property managers after the second review (issue 19): the published-period guard takes an explicit override,
its error names the input's fields, contract histories need ``parties.read_managers``, manager ratings are
computed once per request, an idempotent create, the history in a change's payload."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from tenants.assessment import manager_history
from tenants.audit.models import AuditEntry
from tenants.errors import InvalidInput
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import managers
from tenants.territory.access import Access
from tenants.territory.parties import PropertyManager
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.statements import orm_statements

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

ASSIGN = """mutation($in: AssignContractManagerInput!) {
    assignContractManager(input: $in) { managerId startsOn history { managerId startsOn endsOn successorId } } }"""
END = "mutation($in: EndContractManagerInput!) { endContractManager(input: $in) { endsOn } }"
RATING_TABLES = ("rating_snapshot", "compound_rating", "property_contract", "contract_manager", "company_rating",
                 "property_manager")
HISTORY = "query($c: ID!) { contractManagers(contractId: $c) { managerId reason } }"


def _global(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def _problems(body: dict) -> list[tuple[str, str]]:
    return [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]]


async def test_a_published_day_takes_an_explicit_override_by_a_tenant_admin_with_a_reason(manager_world):
    w = manager_world
    h = w.ids["hist"]
    street = Access(roles=frozenset({Role.STREET_OFFICER}), user_id="so", nodes={"street": frozenset({h["S1"]})},
                    staff_nodes={"street": frozenset({h["S1"]})})
    assign = manager_history.assign_contract_manager
    async with tenant_transaction(w.hist.id):
        c = await managers.create_manager(access=ADMIN, actor="seed", company_id=h["P1"], name="经理C")
        # 2026Q3 is published (to 30 September). An administrator's ordinary 撤换 reason is no override; a street
        # officer asking for one, or an administrator asking without a reason, are refused too.
        for who, reason, override in ((ADMIN, "不胜任", False), (street, "补录", True), (ADMIN, "", True)):
            with pytest.raises(InvalidInput) as caught:
                await assign(access=who, actor="x", contract_id=h["contract_K2"], manager_id=c.id,
                             starts_on=date(2026, 9, 30), reason=reason, override_published=override)
            assert [(p.field, p.reason) for p in caught.value.problems] == [("from", "published_period")]
            assert caught.value.details == {"period": "2026Q3", "periodEnd": "2026-09-30"}
        with pytest.raises(InvalidInput) as caught:
            await manager_history.end_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K1"],
                                                       ends_on=date(2026, 9, 15), reason="离职")
        assert [(p.field, p.reason) for p in caught.value.problems] == [("endsOn", "published_period")]
        row = await assign(access=ADMIN, actor="admin", contract_id=h["contract_K2"], manager_id=c.id,
                           starts_on=date(2026, 9, 30), reason="补录撤换", override_published=True)
        assert (row.manager_id, row.starts_on) == (c.id, date(2026, 9, 30))
        entry = await AuditEntry.filter(action="contract.manager").order_by("-id").first()
        assert entry is not None
        assert entry.details["publishedPeriod"] == {"period": "2026Q3", "periodEnd": "2026-09-30"}
        # Past the published period no override is needed, by anyone allowed.
        await assign(access=street, actor="so", contract_id=h["contract_K2"], manager_id=h["B"],
                     starts_on=date(2026, 10, 1), reason="轮岗")


async def test_the_override_over_graphql_and_the_payloads_history(manager_world, gql):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        c = await managers.create_manager(access=ADMIN, actor="seed", company_id=h["P1"], name="经理C")
    day = {"contractId": str(h["contract_K2"]), "managerId": str(c.id), "from": "2026-09-01", "reason": "不胜任"}
    assert _problems(await gql(ASSIGN, w.tokens["admin"], {"in": day})) == [("from", "published_period")]
    end = {"contractId": str(h["contract_K1"]), "endsOn": "2026-09-15", "reason": "离职"}
    assert _problems(await gql(END, w.tokens["admin"], {"in": end})) == [("endsOn", "published_period")]
    body = await gql(ASSIGN, w.tokens["admin"], {"in": {**day, "overridePublished": True}})
    got = body["data"]["assignContractManager"]
    # The payload carries the contract's whole history: the predecessor it ended and linked to it, and itself.
    history = got["history"]
    assert [(r["managerId"], r["startsOn"], r["endsOn"]) for r in history] == [
        (str(h["A"]), "2026-01-01", "2026-07-31"), (str(h["B"]), "2026-08-01", "2026-08-31"),
        (str(c.id), "2026-09-01", None),
    ]
    assert history[1]["successorId"] and history[2]["successorId"] is None


async def test_contract_histories_need_the_permission_to_read_managers(manager_world, gql, settings):
    w = manager_world
    h = w.ids["hist"]

    def token(role: Role, *scope: str) -> str:
        return bearer(settings, w.hist, role, *scope, user_id=f"{role.value}-1")

    refused = {
        "resident": w.tokens["resident"],
        "volunteer": token(Role.VOLUNTEER, f"household:{h['H1']}"),
        "assessor": token(Role.ASSESSOR),
        "owners' committee": token(Role.OWNERS_COMMITTEE, f"compound:{h['K2']}"),
    }
    async with tenant_transaction(w.hist.id):
        rows = await managers.contract_managers(access=ADMIN, contract_id=h["contract_K2"])
    node = "query($id: ID!) { node(id: $id) { ... on ContractManager { reason } } }"
    for who, bearer_token in refused.items():
        body = await gql(HISTORY, bearer_token, {"c": str(h["contract_K2"])})
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
        assert (body["data"] or {}).get("contractManagers") is None, who
        body = await gql(node, bearer_token, {"id": _global("ContractManager", rows[1].id)})
        assert body["data"]["node"] is None, who
        body = await gql('{ managerRatings(period: "2026Q3") { nodes { name } } }', bearer_token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
    staff = token(Role.COMMUNITY_WORKER, f"community:{h['C2']}")
    got = (await gql(HISTORY, staff, {"c": str(h["contract_K2"])}))["data"]["contractManagers"]
    assert [r["reason"] for r in got] == ["", "不胜任"]
    body = await gql(node, staff, {"id": _global("ContractManager", rows[1].id)})
    assert body["data"]["node"] == {"reason": "不胜任"}


async def test_manager_ratings_are_computed_once_per_request_however_many_aliases(manager_world, gql):
    w = manager_world

    def query(aliases: int) -> str:
        fields = " ".join(f'r{i}: managerRatings(period: "2026Q3", first: {i + 1}) {{ nodes {{ rank }} }}'
                          for i in range(aliases))
        return "{ " + fields + " }"

    counts = []
    for aliases in (1, 5):
        with orm_statements() as sent:
            body = await gql(query(aliases), w.tokens["big_admin"])
        assert "errors" not in body
        assert [n["rank"] for n in body["data"][f"r{aliases - 1}"]["nodes"]] == list(range(1, aliases + 1))
        counts.append(sum(1 for s in sent if any(t in s for t in RATING_TABLES)))
    # The snapshot, the four reads of the ratings and the caller's managers: once, however many aliases (the
    # caller's and the configuration's own reads, cached across requests, are left out of the count).
    assert counts == [6, 6]


async def test_the_same_idempotency_key_twice_puts_one_manager_on_file(manager_world, gql):
    w = manager_world
    h = w.ids["hist"]
    create = """mutation($in: CreatePropertyManagerInput!) { createPropertyManager(input: $in) { databaseId } }"""
    made = {"companyId": str(h["P1"]), "name": "经理D", "phone": "13700137000", "idempotencyKey": "mgr-d-1"}
    first = (await gql(create, w.tokens["admin"], {"in": made}))["data"]["createPropertyManager"]
    again = (await gql(create, w.tokens["admin"], {"in": made}))["data"]["createPropertyManager"]
    assert first == again
    async with tenant_transaction(w.hist.id):
        assert await PropertyManager.filter(name="经理D").count() == 1
