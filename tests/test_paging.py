"""Relay pagination on every connection: `first`/`after` forward and `last`/`before` backward over the same keyset,
PageInfo in both directions, cursors bound to their list, and a `totalCount` that is counted only when asked."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from api.pagination import encode_cursor
from tenants.paging import Order, Window, page
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.parties import PropertyCompany
from tenants.tickets.models import Channel, Ticket, UnitKind
from tests.fixtures.callers import bearer
from tests.fixtures.territory import build

COMPANIES = """query($first: Int, $after: String, $last: Int, $before: String) {
  propertyCompanies(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { name } }
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }"""
TICKETS = """query($first: Int, $after: String, $last: Int, $before: String) {
  tickets(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { description } }
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }"""


@pytest.fixture
async def world(app, settings: Settings, once) -> dict:
    """张家口市 with 25 property companies (build's P1, P2 and 物业03..物业25) and 25 tickets opened at five
    moments, five at each (so the id breaks the ties); 下花园区 with 3 companies of its own."""
    return await once(_world, settings)


async def _world(settings: Settings) -> dict:
    t = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    ids = await build(t.id)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    async with tenant_transaction(t.id):
        for i in range(3, 26):
            await PropertyCompany.create(credit_code=f"9113{i:010d}", name=f"物业{i:02d}")
        for i in range(25):
            await Ticket.create(
                category_code="环境卫生", item_code="楼道堆物", description=f"第{i:02d}件", channel=Channel.APP,
                street_id=ids["S1"], community_id=ids["C1"], grid_id=ids["G1"], compound_id=ids["K1"],
                reporter_user_id="res-1", entered_by="res-1", assignee_kind=UnitKind.COMMUNITY,
                assignee_id=ids["C1"], opened_at=start + timedelta(hours=i // 5),
            )
    other = await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou")
    async with tenant_transaction(other.id):
        for i in range(3):
            await PropertyCompany.create(credit_code=f"9199{i:010d}", name=f"下花园物业{i}")
    return {
        "tenant": t,
        "ids": ids,
        "admin": bearer(settings, t, Role.TENANT_ADMIN, user_id="admin"),
        "company": bearer(settings, t, Role.PROPERTY_COMPANY, f"company:{ids['P1']}", user_id="p1"),
    }


async def _walk(gql, query: str, field: str, token: str, *, backward: bool) -> tuple[list[str], list[tuple]]:
    """Every row, page by page of 10 (forward from the start, or backward from the end), with each page's
    (rows, hasPreviousPage, hasNextPage); rows in the list's order either way."""
    rows: list[str] = []
    infos: list[tuple] = []
    cursor = None
    while True:
        args = {"last": 10, "before": cursor} if backward else {"first": 10, "after": cursor}
        body = await gql(query, token, args)
        assert "errors" not in body, body
        conn = body["data"][field]
        names = [e["node"].get("name") or e["node"].get("description") for e in conn["edges"]]
        info = conn["pageInfo"]
        assert info["startCursor"] == conn["edges"][0]["cursor"] and info["endCursor"] == conn["edges"][-1]["cursor"]
        infos.append((len(names), info["hasPreviousPage"], info["hasNextPage"]))
        rows = names + rows if backward else rows + names
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            return rows, infos
        cursor = info["startCursor"] if backward else info["endCursor"]


async def test_25_companies_walk_forward_by_10_and_back_from_the_end_to_the_same_rows(world, gql):
    forward, infos = await _walk(gql, COMPANIES, "propertyCompanies", world["admin"], backward=False)
    assert forward == ["P1", "P2", *(f"物业{i:02d}" for i in range(3, 26))]  # by id: as created
    # (rows, hasPreviousPage, hasNextPage): forward, a page asked `after` a cursor has rows before it.
    assert infos == [(10, False, True), (10, True, True), (5, True, False)]
    backward, infos = await _walk(gql, COMPANIES, "propertyCompanies", world["admin"], backward=True)
    assert backward == forward
    # Backward: hasPreviousPage says whether more rows come before; a page asked `before` a cursor has rows after.
    assert infos == [(10, True, False), (10, True, True), (5, False, True)]


async def test_tickets_tied_on_opened_at_walk_both_ways_newest_first(world, gql):
    forward, infos = await _walk(gql, TICKETS, "tickets", world["admin"], backward=False)
    # Newest hour first; within an hour the later id first (ids follow creation order here).
    expected = [f"第{i:02d}件" for hour in range(4, -1, -1) for i in range(hour * 5 + 4, hour * 5 - 1, -1)]
    assert forward == expected
    assert infos == [(10, False, True), (10, True, True), (5, True, False)]
    backward, infos = await _walk(gql, TICKETS, "tickets", world["admin"], backward=True)
    assert backward == expected
    assert infos == [(10, True, False), (10, True, True), (5, False, True)]


async def test_total_count_is_the_whole_readable_list_and_null_where_documented(world, gql):
    body = await gql(COMPANIES, world["admin"], {"first": 3})
    assert body["data"]["propertyCompanies"]["totalCount"] == 25  # P1, P2 and 23 more; 下花园区's 3 are not ours
    body = await gql(COMPANIES, world["company"], {"first": 3})
    assert body["data"]["propertyCompanies"]["totalCount"] == 1  # a company reads only itself
    body = await gql(TICKETS, world["admin"], {"first": 3})
    assert body["data"]["tickets"]["totalCount"] is None  # tickets are not counted (README, Pagination)
    body = await gql('{ areas(level: COMPOUND) { totalCount } h: areas(level: HOUSEHOLD) { totalCount } }',
                     world["admin"])
    assert body["data"] == {"areas": {"totalCount": 3}, "h": {"totalCount": None}}


async def test_a_range_between_two_cursors_is_read_from_either_end(world, gql):
    forward, _ = await _walk(gql, COMPANIES, "propertyCompanies", world["admin"], backward=False)
    body = await gql(COMPANIES, world["admin"], {"first": 25})
    cursors = [e["cursor"] for e in body["data"]["propertyCompanies"]["edges"]]
    between = {"after": cursors[2], "before": cursors[9]}  # rows 3..8
    head = (await gql(COMPANIES, world["admin"], {**between, "first": 2}))["data"]["propertyCompanies"]
    assert [e["node"]["name"] for e in head["edges"]] == forward[3:5]
    assert (head["pageInfo"]["hasPreviousPage"], head["pageInfo"]["hasNextPage"]) == (True, True)
    tail = (await gql(COMPANIES, world["admin"], {**between, "last": 2}))["data"]["propertyCompanies"]
    assert [e["node"]["name"] for e in tail["edges"]] == forward[7:9]
    assert (tail["pageInfo"]["hasPreviousPage"], tail["pageInfo"]["hasNextPage"]) == (True, True)
    whole = (await gql(COMPANIES, world["admin"], {**between, "last": 10}))["data"]["propertyCompanies"]
    assert [e["node"]["name"] for e in whole["edges"]] == forward[3:9]
    assert whole["pageInfo"]["hasPreviousPage"] is False
    assert whole["totalCount"] == 25  # the list's count, not the range's


def _problem(body: dict) -> tuple[str, str, str]:
    error = body["errors"][0]["extensions"]
    return error["code"], error["field"], error["problems"][0]["reason"]


async def test_a_cursor_of_another_list_or_garbage_and_first_with_last_are_invalid(world, gql):
    body = await gql(COMPANIES, world["admin"], {"first": 1})
    company_cursor = body["data"]["propertyCompanies"]["edges"][0]["cursor"]
    persons = "query($a: String, $b: String) { persons(after: $a, before: $b) { edges { cursor } } }"
    assert _problem(await gql(persons, world["admin"], {"a": company_cursor})) == ("INVALID_INPUT", "after",
                                                                                  "bad_cursor")
    assert _problem(await gql(persons, world["admin"], {"b": company_cursor})) == ("INVALID_INPUT", "before",
                                                                                  "bad_cursor")
    # The same ordering (by id) and the right types, but another list's: still refused.
    assert _problem(await gql(persons, world["admin"], {"a": encode_cursor([1], "Query.propertyCompanies")}))[2] \
        == "bad_cursor"
    for garbage in ("garbage!", "", encode_cursor([1]), encode_cursor(["x"], "Query.propertyCompanies")):
        assert _problem(await gql(COMPANIES, world["admin"], {"before": garbage})) == ("INVALID_INPUT", "before",
                                                                                      "bad_cursor")
    assert _problem(await gql(COMPANIES, world["admin"], {"first": 2, "last": 2})) == ("INVALID_INPUT", "last",
                                                                                      "exclusive")
    assert _problem(await gql(COMPANIES, world["admin"], {"last": 0})) == ("INVALID_INPUT", "last", "out_of_range")
    assert _problem(await gql(COMPANIES, world["admin"], {"last": 101})) == ("INVALID_INPUT", "last",
                                                                            "out_of_range")


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "connection pool" not in record.getMessage():
            self.sql.append(record.getMessage())


@contextmanager
def _logged():
    logger = logging.getLogger("tortoise.db_client")
    handler, level = _Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.sql
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_total_count_costs_one_statement_and_only_when_selected(world, gql):
    plain = "query($n: Int!) { propertyCompanies(first: $n) { edges { node { name } } } }"
    counted = "query($n: Int!) { propertyCompanies(first: $n) { totalCount edges { node { name } } } }"
    await gql(counted, world["admin"], {"n": 1})  # warm: the tenant's configuration is memoised per process
    cost = {}
    for name, query in (("plain", plain), ("counted", counted)):
        for n in (10, 25):
            with _logged() as sql:
                body = await gql(query, world["admin"], {"n": n})
            assert "errors" not in body and len(body["data"]["propertyCompanies"]["edges"]) == n
            cost[name, n] = (len(sql), sum("COUNT(" in s.upper() for s in sql))
    assert cost["plain", 10] == cost["plain", 25]
    assert cost["counted", 10] == cost["counted", 25]
    assert cost["plain", 10][1] == 0  # no COUNT runs unless totalCount is selected
    assert cost["counted", 10] == (cost["plain", 10][0] + 1, 1)


async def test_a_window_over_a_mixed_order_reads_the_same_rows_both_ways(world):
    # Name descending, then id ascending: ties broken the other way round (as settlement statements are ordered).
    async with tenant_transaction(world["tenant"].id):
        for i in range(4):
            await PropertyCompany.create(credit_code=f"9177{i:010d}", name="同名物业")
        order = Order(("-name", "id"), (str, int))
        everything = (await page(PropertyCompany.all(), order, Window(limit=100))).rows
        tied = [i for i, c in enumerate(everything) if c.name == "同名物业"]
        first, last = tied[0], tied[-1]
        assert tied == list(range(first, first + 4))  # together, by id ascending
        assert [everything[i].id for i in tied] == sorted(everything[i].id for i in tied)
        after = await page(PropertyCompany.all(), order, Window(limit=3, after=order.key(everything[first])))
        assert [c.id for c in after.rows] == [c.id for c in everything[first + 1 : last + 1]]
        before = await page(
            PropertyCompany.all(), order, Window(limit=3, before=order.key(everything[last]), backward=True)
        )
        assert [c.id for c in before.rows] == [c.id for c in everything[first:last]]
        assert before.keys == [order.key(c) for c in everything[first:last]]
        assert after.count is not None and await after.count() == 29


COUNTED = {  # connections with the arguments they need, and their totalCount (None: null, as documented)
    "areas(level: STREET)": 2,
    "propertyContracts": 2,
    'propertyContracts(companyId: "$P1")': 1,
    "bonds": 2,
    "bonds(filter: {belowRequired: true, late: false})": 2,  # nothing deposited yet: both are short
    'bondHistory(contractId: "$CONTRACT")': 0,
    "brandProjects(filter: {year: 2026})": 0,
    "jobRuns": 0,
    "settlementStatements": 0,
    "persons": None,
    "tickets(filter: {mine: true})": None,
    "auditLog": None,
    "notifications": None,
    "webhookDeliveries": None,
    'ledgerEntries(account: "bond:1")': None,
    "areas(level: HOUSEHOLD)": None,
}


async def test_every_connection_answers_total_count(world, gql, token):
    body = await gql("{ propertyContracts { nodes { id } } configVersions(first: 100) { nodes { versionNo } } }",
                     world["admin"])
    contract = body["data"]["propertyContracts"]["nodes"][0]["id"]
    counted = {**COUNTED, "configVersions": len(body["data"]["configVersions"]["nodes"])}
    for field, expected in counted.items():
        field = field.replace("$P1", str(world["ids"]["P1"])).replace("$CONTRACT", contract)
        body = await gql(f"{{ {field} {{ totalCount }} }}", world["admin"])
        assert "errors" not in body, (field, body)
        assert list(body["data"].values()) == [{"totalCount": expected}], field
    body = await gql("{ tenants { totalCount } }", token(None, Role.PLATFORM_ADMIN))
    assert body["data"]["tenants"]["totalCount"] == 2
