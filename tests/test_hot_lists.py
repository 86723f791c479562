"""The hot lists (tickets, rankings, settlement statements, areas, bonds) read each page with the links the client
selected in one statement (``tenants.paging.page_with``); the general path resolves each link through its own
resolver and DataLoader. For a query selecting every field of the node and of its links, both paths return the
same bytes, at page sizes 10 and 100, for callers of different scopes (``api.pagination.PRELOAD`` switches the
fast path off)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from graphql import GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLUnionType

import api.compiled
import api.pagination
from api.schema import schema
from tenants import clock
from tenants.assessment.models import CompanyRating, CompoundRating, ListMark, RatingSnapshot, SnapshotStatus
from tenants.files.models import Purpose, StoredFile
from tenants.scope import tenant_context, tenant_transaction
from tenants.settings import Settings
from tenants.subsidies.models import SettlementLine, SettlementStatement
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory import parties_service as parties
from tenants.territory.parties import PropertyCompany
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.tickets.models import Channel, PartnerTask, Ticket, TicketEvent, TicketState, UnitKind
from tests.fixtures.callers import ADMIN, bearer, tokens
from tests.fixtures.money import SETTLEMENT_PERIOD, settle
from tests.fixtures.territory import add_compound, build

NOW = datetime(2026, 10, 1, tzinfo=UTC)
ROWS = 110


def every_field(type_name: str, depth: int) -> str:
    """A selection of every field of ``type_name`` (deprecated ones too; none that needs an argument), objects
    followed ``depth`` levels down, interfaces and unions through each possible type."""
    gql_schema = schema._schema
    kind = gql_schema.get_type(type_name)
    return _selection(gql_schema, kind, depth)


def _unwrap(t):
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _selection(gql_schema, kind, depth: int) -> str:
    if isinstance(kind, (GraphQLInterfaceType, GraphQLUnionType)):
        parts = ["__typename"] + [
            f"... on {t.name} {_selection(gql_schema, t, depth)}" for t in gql_schema.get_possible_types(kind)
        ]
        return "{ " + " ".join(parts) + " }"
    parts = []
    for name, field in kind.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is None for a in field.args.values()):
            continue
        inner = _unwrap(field.type)
        if isinstance(inner, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            if depth > 0:
                parts.append(f"{name} {_selection(gql_schema, inner, depth - 1)}")
        else:
            parts.append(name)
    return "{ " + " ".join(parts) + " }"


def listing(field: str, args: str, node_type: str, depth: int = 2) -> str:
    node = every_field(node_type, depth)
    return (
        f"query($n: Int!) {{ {field}({args}first: $n) {{ edges {{ cursor node {node} }} nodes {{ id: __typename }}"
        " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
    )


@pytest.fixture
def frozen(monkeypatch):
    """One instant for both paths (signed file links and secondsLeft depend on it)."""
    at = clock.now()
    monkeypatch.setattr(clock, "now", lambda: at)
    return at


COMPLETED: list[object] = []  # the pages api.compiled completed in one pass


@pytest.fixture(autouse=True)
def count_compiled(monkeypatch):
    init = api.compiled.Compiled.__init__

    def counted(self, value):
        COMPLETED.append(value)
        init(self, value)

    monkeypatch.setattr(api.compiled.Compiled, "__init__", counted)


async def both(client, query: str, token: str, n: int, monkeypatch) -> tuple[bytes, bytes]:
    """The response bytes of the fast path (which must have been completed in one pass when it has no error) and
    of the general path."""
    async def post() -> bytes:
        # One request id for both: an error's extensions carry it (README, "Observability").
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "hot-list"}
        resp = await client.post("/graphql", json={"query": query, "variables": {"n": n}}, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.content

    COMPLETED.clear()
    fast = await post()
    assert len(COMPLETED) == (0 if b'"errors"' in fast else 1), fast[:300]
    monkeypatch.setattr(api.pagination, "PRELOAD", False)
    try:
        general = await post()
    finally:
        monkeypatch.setattr(api.pagination, "PRELOAD", True)
    return fast, general


@pytest.fixture
async def hot(app, settings: Settings, once) -> dict:
    """临沭县 (bonds on) with 110 compounds under contract, 110 tickets (timelines with photos, partner tasks,
    attached photos) assigned in turn to a community, a street, a company and a county department, and a published
    2026Q3 snapshot rating 110 companies and 110 compounds; 郯城县 beside it with one ticket."""
    return await once(_hot, settings)


async def _hot(settings: Settings) -> dict:
    t = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    other = await create_tenant(slug="tancheng", name="郯城县", preset="linshu")
    ids = await build(t.id)
    other_ids = await build(other.id)
    with tenant_context(t.id):
        unit = await parties.create_unit(
            access=ADMIN, actor="seed", kind=PartyUnitKind.COUNTY_DEPARTMENT, code="城管", name="县城管局"
        )
        compounds = [ids["K1"], ids["K2"], ids["K3"]]
        for i in range(ROWS - 3):
            compounds.append(await add_compound(ids, f"X{i}", ("G1", "G2", "G3")[i % 3], ("P1", "P2")[i % 2]))
    async with tenant_transaction(other.id):
        await _ticket(other_ids, 0, other_ids["K1"], (UnitKind.COMMUNITY, other_ids["C1"]))
    async with tenant_transaction(t.id):
        units = [(UnitKind.COMMUNITY, ids["C1"]), (UnitKind.STREET, ids["S1"]),
                 (UnitKind.PROPERTY_COMPANY, ids["P1"]), (UnitKind.COUNTY_DEPARTMENT, unit.id)]
        for i in range(ROWS):
            ticket = await _ticket(ids, i, compounds[i], units[i % len(units)])
            photo = await _file(ticket.id if i % 3 else None, i)
            await TicketEvent.create(ticket_id=ticket.id, at=NOW, actor="res-1", action="report",
                                     to_state="reported", details={"fileIds": [photo.id]})
            await TicketEvent.create(ticket_id=ticket.id, at=NOW + timedelta(hours=1), actor="so-1",
                                     action="dispatch", from_state="reported", to_state="dispatched", note="派单")
            if i % 5 == 0:
                await PartnerTask.create(ticket_id=ticket.id, unit_kind=UnitKind.PROPERTY_COMPANY, unit_id=ids["P2"],
                                         accept_due_at=NOW, due_at=NOW, created_at=NOW)
        companies = [await PropertyCompany.create(credit_code=f"9137{i:010d}", name=f"物业{i}") for i in range(ROWS)]
        snap = await RatingSnapshot.create(period_key="2026Q3", status=SnapshotStatus.DRAFT, computed_at=NOW)
        for rank, c in enumerate(companies, 1):
            await CompanyRating.create(snapshot_id=snap.id, company_id=c.id, score=Decimal("80.5"), rank=rank,
                                       mark=ListMark.COMMENDED if rank <= 3 else ListMark.NONE,
                                       breakdown={"compounds": []})
        for rank, k in enumerate(compounds, 1):
            await CompoundRating.create(
                snapshot_id=snap.id, compound_id=k, company_id=ids["P1"] if rank % 2 else ids["P2"],
                score=Decimal("90.25"), body_part=Decimal("60"), objective_part=None, deductions=Decimal("1.5"),
                rank=rank, breakdown={},
            )
        snap.status, snap.published_at = SnapshotStatus.PUBLISHED, NOW
        await snap.save()
    return {
        "t": t, "ids": ids, "other_ids": other_ids,
        **tokens(settings, t, ids, admin="admin", street_officer_s1="so-1", community_worker_c2="cw-2",
                 company_p1="p1-staff", company_p2="p2-staff", resident="res-1"),
        "other_admin": bearer(settings, other, Role.TENANT_ADMIN, user_id="admin"),
    }


async def _ticket(ids: dict, i: int, compound: int, unit: tuple[UnitKind, int]) -> Ticket:
    return await Ticket.create(
        category_code="环境卫生", item_code="楼道堆物", description=f"第{i}件", channel=Channel.APP,
        street_id=ids["S1"] if i % 3 != 2 else ids["S2"], community_id=ids["C1"] if i % 3 == 0 else ids["C2"],
        grid_id=ids["G1"], compound_id=compound, household_id=ids["H1"] if i % 2 else None,
        reporter_user_id="res-1" if i % 2 else "res-2", entered_by="res-1", assignee_kind=unit[0],
        assignee_id=unit[1], state=TicketState.DISPATCHED if i % 4 else TicketState.REPORTED,
        opened_at=NOW + timedelta(minutes=i // 2), due_at=NOW + timedelta(days=1),
        rules={"item": {"title": "楼道堆物"}},
    )


async def _file(ticket_id: int | None, i: int) -> StoredFile:
    return await StoredFile.create(
        key=f"k{i}", thumbnail_key=f"t{i}", content_type="image/jpeg", thumbnail_type="image/jpeg", size=10,
        width=4, height=3, sha256="0" * 64, name=f"{i}.jpg", purpose=Purpose.TICKET, uploaded_by="res-1",
        uploaded_at=NOW, attached_kind="ticket" if ticket_id else None, attached_id=ticket_id,
        attached_at=NOW if ticket_id else None,
    )


CALLERS = ("admin", "street_officer_s1", "community_worker_c2", "company_p1", "company_p2", "resident", "other_admin")


async def _same(client, hot, query: str, callers, monkeypatch, *, nonempty: str) -> None:
    for who in callers:
        for n in (10, 100):
            fast, general = await both(client, query, hot[who], n, monkeypatch)
            assert fast == general, (who, n)
            if who == "admin":
                assert b'"errors"' not in fast, fast[:2000]
                assert fast.count(b'"cursor"') == n and nonempty.encode() in fast, fast[:500]


async def test_tickets_fast_path_returns_the_general_paths_bytes(hot, client, frozen, monkeypatch):
    query = listing("tickets", "", "Ticket")
    await _same(client, hot, query, CALLERS, monkeypatch, nonempty='"thumbnailUrl"')


async def test_company_rankings_fast_path_returns_the_general_paths_bytes(hot, client, frozen, monkeypatch):
    query = listing("companyRankings", 'period: "2026Q3", ', "CompanyRating")
    await _same(client, hot, query, CALLERS, monkeypatch, nonempty='"creditCode"')


async def test_compound_rankings_fast_path_returns_the_general_paths_bytes(hot, client, frozen, monkeypatch):
    query = listing("compoundRankings", 'period: "2026Q3", ', "CompoundRating")
    await _same(client, hot, query, CALLERS, monkeypatch, nonempty='"address"')


@pytest.mark.parametrize("level", ["COMMUNITY", "GRID", "COMPOUND", "BUILDING", "HOUSEHOLD"])
async def test_areas_fast_path_returns_the_general_paths_bytes(hot, client, frozen, monkeypatch, level):
    query = listing("areas", f"level: {level}, ", "Area")
    for who in CALLERS:
        for n in (10, 100):
            fast, general = await both(client, query, hot[who], n, monkeypatch)
            assert fast == general, (who, n)
    fast, _ = await both(client, listing("areas", "level: COMPOUND, ", "Area"), hot["admin"], 100, monkeypatch)
    assert fast.count(b'"cursor"') == 100


async def test_bonds_fast_path_returns_the_general_paths_bytes(hot, client, frozen, monkeypatch, gql):
    deposit = "mutation($in: DepositBondInput!) { depositBond(input: $in) { replayed } }"
    bonds = await gql("{ bonds(first: 3) { edges { node { contractId } } } }", hot["admin"])
    for i, edge in enumerate(bonds["data"]["bonds"]["edges"]):
        body = await gql(deposit, hot["admin"], {"in": {"contractId": edge["node"]["contractId"],
                                                        "amountFen": 100_000 * (i + 5), "reference": f"R{i}"}})
        assert "errors" not in body, body
    query = listing("bonds", "", "Bond")
    callers = ("admin", "street_officer_s1", "community_worker_c2", "company_p1", "other_admin")
    await _same(client, hot, query, callers, monkeypatch, nonempty='"requiredFen"')
    filtered = listing("bonds", "filter: {belowRequired: true}, ", "Bond")
    await _same(client, hot, filtered, ("admin",), monkeypatch, nonempty='"shortfallFen"')


async def test_settlement_statements_fast_path_returns_the_general_paths_bytes(
    rated_district, client, gql, frozen, monkeypatch
):
    await settle(gql, rated_district)
    query = listing("settlementStatements", "", "SettlementStatement", depth=3)
    for who in ("admin", "street_officer_s1", "community_worker_c2", "company_p1", "company_p2", "housing_dept"):
        for n in (10, 100):
            fast, general = await both(client, query, rated_district[who], n, monkeypatch)
            assert fast == general, (who, n)
    fast, _ = await both(client, query, rated_district["admin"], 10, monkeypatch)
    assert b'"companyName"' in fast and b'"creditCode"' in fast and SETTLEMENT_PERIOD.encode() in fast
    # Lines share their compounds' objects, each completed once per selection: two selections of one compound
    # (an alias) still give each its own fields.
    ids = rated_district["ids"]
    async with tenant_transaction(rated_district["t"].id):
        for period in ("2026Q1", "2026Q2"):
            statement = await SettlementStatement.create(
                period_key=period, community_id=ids["C1"], pool_fen=1_000, total_fen=300, rule={}, basis={},
                computed_at=NOW, computed_by="admin")
            for p in range(1, 4):
                await SettlementLine.create(statement_id=statement.id, position=p, for_period=period,
                                            compound_id=ids["K1"], company_id=ids["P1"], rule="按分档 / by band",
                                            amount_fen=100, score=Decimal("88.5"))
    shared = """query($n: Int!) { settlementStatements(first: $n) { edges { node { lines { compound { id name }
      again: compound { name street { name } } } } } } }"""
    fast, general = await both(client, shared, rated_district["admin"], 100, monkeypatch)
    lines = [line for e in json.loads(fast)["data"]["settlementStatements"]["edges"] for line in e["node"]["lines"]]
    assert fast == general and len({line["compound"]["id"] for line in lines}) < len(lines) - 5, fast[:300]
    assert all(set(line["compound"]) == {"id", "name"} and "street" in line["again"] for line in lines)
    approve = "mutation($id: ID!) { approveSettlement(id: $id) { status } }"
    ids = await gql("{ settlementStatements { edges { node { id } } } }", rated_district["admin"])
    for edge in ids["data"]["settlementStatements"]["edges"]:
        await gql(approve, rated_district["admin"], {"id": edge["node"]["id"]})
    for who in ("company_p1", "company_p2"):  # a company reads its own lines of the approved statements
        fast, general = await both(client, query, rated_district[who], 100, monkeypatch)
        assert fast == general and b'"lines":[{' in fast, (who, fast[:300])


async def test_a_tenant_reads_none_of_anothers_links(hot, client, frozen, monkeypatch):
    query = listing("tickets", "", "Ticket")
    fast, general = await both(client, query, hot["other_admin"], 100, monkeypatch)
    assert fast == general and fast.count(b'"cursor"') == 1
    node = json.loads(fast)["data"]["tickets"]["edges"][0]["node"]
    assert node["compound"]["databaseId"] == str(hot["other_ids"]["K1"])
    assert node["timeline"] == [] and node["photoFiles"] == [] and node["partnerTasks"] == []


def test_the_queries_select_every_field_of_the_links():
    query = listing("tickets", "", "Ticket")
    for field in ("compound {", "assignee {", "timeline {", "partnerTasks {", "photoFiles {", "street {"):
        assert field in query, field


async def test_paging_backward_and_after_a_cursor_agree_on_both_paths(hot, client, frozen, monkeypatch, gql):
    first = await gql("{ tickets(first: 30) { pageInfo { endCursor } } }", hot["admin"])
    cursor = first["data"]["tickets"]["pageInfo"]["endCursor"]
    node = every_field("Ticket", 1)
    for args in (f'first: 10, after: "{cursor}"', f'last: 10, before: "{cursor}"', "last: 100"):
        query = (f"{{ tickets({args}) {{ edges {{ cursor node {node} }} pageInfo {{ hasNextPage "
                 "hasPreviousPage startCursor endCursor } } }")
        fast, general = await both(client, query, hot["admin"], 0, monkeypatch)
        assert fast == general and fast.count(b'"cursor"') == (100 if args == "last: 100" else 10), args


async def test_aliases_fragments_and_directives_agree_on_both_paths(hot, client, frozen, monkeypatch):
    query = """query($n: Int!, $yes: Boolean = true) { tickets(first: $n) { edges { node { ...T
      again: compound { ...on Compound { n: name } } assignee @include(if: $yes) { name }
      timeline @skip(if: $yes) { at } photoFiles @include(if: false) { id } } } } }
      fragment T on Ticket { id state compound { name street { name } } partnerTasks { unit { name } } }"""
    for who in ("admin", "company_p2"):
        fast, general = await both(client, query, hot[who], 100, monkeypatch)
        assert fast == general and b'"again"' in fast and b'"timeline"' not in fast, who
