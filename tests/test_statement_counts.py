"""The hot lists (tickets, companyRankings, compoundRankings, settlementStatements, areas, bonds) read a page with
the links the client selected in one statement (settlement lines' compounds and companies: one more), so a page
of 10 and a page of 100 cost the same number of SQL statements, and few: what the request path itself costs
(authentication, the tenant, the scope) plus at most two."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tenants.assessment.models import CompanyRating, CompoundRating, ListMark, RatingSnapshot, SnapshotStatus
from tenants.scope import tenant_context, tenant_transaction
from tenants.settings import Settings
from tenants.subsidies.models import SettlementLine, SettlementStatement
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory import parties_service as parties
from tenants.territory.parties import PropertyCompany
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.tickets.models import Channel, Ticket, UnitKind
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.statements import orm_statements
from tests.fixtures.territory import add_compound, build

ROWS = 110
TICKETS = """query($n: Int!) { tickets(first: $n) { edges { node { id state itemTitle
  assignee { kind id name } compound { name } timeline { toStatus } partnerTasks { id } photoFiles { id } } } } }"""
RANKINGS = """query($n: Int!) { companyRankings(period: "2026Q3", first: $n) { edges { node { rank
  company { id name creditCode } } } } }"""
COMPOUND_RANKINGS = """query($n: Int!) { compoundRankings(period: "2026Q3", first: $n) { edges { node { rank
  compound { id name } } } } }"""
STATEMENTS = """query($n: Int!) { settlementStatements(first: $n) { edges { node { id periodKey totalFen
  community { name } lines { amountFen compound { name } companyName } payees { companyName creditCode } } } } }"""
AREAS = """query($n: Int!) { areas(level: COMPOUND, first: $n) { edges { node { id name
  ... on Compound { grid { name } community { name } street { name } } } } } }"""
BONDS = """query($n: Int!) { bonds(first: $n) { edges { node { contractId requiredFen balanceFen topUp { dueOn }
  compound { name } } } } }"""
# What the request path costs before the list's own statements: the tenant by slug, entering its scope.
OVERHEAD = ("set_config('app.platform'", 'FROM "tenant"', "civicgrid_enter_tenant")


@pytest.fixture
async def crowded(app, settings: Settings, once) -> dict:
    """A tenant with 110 companies and 110 compounds (each under contract) rated in a published 2026Q3 snapshot,
    110 tickets assigned in turn to a community, a street, a company and a county department, and 110 settlement
    statements of two lines each."""
    return await once(_crowded, settings)


async def _crowded(settings: Settings) -> dict:
    t = await create_tenant(slug="linshu", name="临沭县", preset="linshu")  # 临沭: bonds are on
    ids = await build(t.id)
    with tenant_context(t.id):
        unit = await parties.create_unit(
            access=ADMIN, actor="seed", kind=PartyUnitKind.COUNTY_DEPARTMENT, code="城管", name="区城管局"
        )
        compounds = [ids["K1"], ids["K2"], ids["K3"]]
        for i in range(ROWS - 3):
            compounds.append(await add_compound(ids, f"X{i}", ("G1", "G2", "G3")[i % 3], ("P1", "P2")[i % 2]))
    now = datetime(2026, 10, 1, tzinfo=UTC)
    async with tenant_transaction(t.id):
        companies = [
            await PropertyCompany.create(credit_code=f"9113{i:010d}", name=f"物业{i}") for i in range(ROWS)
        ]
        snap = await RatingSnapshot.create(period_key="2026Q3", status=SnapshotStatus.DRAFT, computed_at=now)
        for rank, c in enumerate(companies, 1):
            await CompanyRating.create(
                snapshot_id=snap.id, company_id=c.id, score=Decimal("80"), rank=rank, mark=ListMark.NONE, breakdown={}
            )
        for rank, k in enumerate(compounds, 1):
            await CompoundRating.create(
                snapshot_id=snap.id, compound_id=k, company_id=ids["P1"], score=Decimal("80"), body_part=Decimal("80"),
                deductions=Decimal("0"), rank=rank, breakdown={},
            )
        for i in range(ROWS):
            statement = await SettlementStatement.create(
                period_key=str(1990 + i), community_id=ids["C1"], pool_fen=600_000, total_fen=2_000, rule={},
                basis={}, computed_at=now, computed_by="admin",
            )
            for position, (k, company) in enumerate(((ids["K1"], ids["P1"]), (compounds[i], ids["P2"])), 1):
                await SettlementLine.create(
                    statement_id=statement.id, position=position, for_period=str(1990 + i), compound_id=k,
                    company_id=company, rule="按分档", amount_fen=1_000,
                )
        snap.status, snap.published_at = SnapshotStatus.PUBLISHED, now  # a published one's ratings are frozen
        await snap.save()
        units = [(UnitKind.COMMUNITY, ids["C1"]), (UnitKind.STREET, ids["S1"]),
                 (UnitKind.PROPERTY_COMPANY, ids["P1"]), (UnitKind.COUNTY_DEPARTMENT, unit.id)]
        for i in range(ROWS):
            kind, unit_id = units[i % len(units)]
            await Ticket.create(
                category_code="环境卫生", item_code="楼道堆物", description=f"第{i}件", channel=Channel.APP,
                street_id=ids["S1"], community_id=ids["C1"], grid_id=ids["G1"], compound_id=ids["K1"],
                reporter_user_id="res-1", entered_by="res-1", assignee_kind=kind, assignee_id=unit_id,
                opened_at=now,
            )
    return {"admin": bearer(settings, t, Role.TENANT_ADMIN, user_id="admin"), "unit": unit, "ids": ids}


async def _cost(gql, query: str, token: str, n: int) -> tuple[int, dict]:
    await gql(query, token, {"n": 1})  # warm: the tenant's configuration is memoised per process
    with orm_statements() as statements:
        body = await gql(query, token, {"n": n})
    assert "errors" not in body, body
    own = [s for s in statements if not any(o in s for o in OVERHEAD)]
    assert len(own) <= 2, own  # the page with its links; settlement lines' compounds and companies
    return len(statements), body


LISTS = {
    "tickets": TICKETS, "companyRankings": RANKINGS, "compoundRankings": COMPOUND_RANKINGS,
    "settlementStatements": STATEMENTS, "areas": AREAS, "bonds": BONDS,
}


@pytest.mark.parametrize("name", LISTS)
async def test_every_hot_list_costs_the_same_few_statements_for_10_and_100(crowded, gql, name):
    small, _ = await _cost(gql, LISTS[name], crowded["admin"], 10)
    large, body = await _cost(gql, LISTS[name], crowded["admin"], 100)
    assert len(body["data"][name]["edges"]) == 100
    assert small == large, (small, large)


async def test_a_page_of_tickets_costs_the_same_for_10_and_100(crowded, gql):
    small, _ = await _cost(gql, TICKETS, crowded["admin"], 10)
    large, body = await _cost(gql, TICKETS, crowded["admin"], 100)
    edges = body["data"]["tickets"]["edges"]
    assert len(edges) == 100
    assert small == large, (small, large)
    names = {e["node"]["assignee"]["kind"]: e["node"]["assignee"]["name"] for e in edges}
    assert names == {"COMMUNITY": "C1名", "STREET": "S1名", "PROPERTY_COMPANY": "P1",
                     "COUNTY_DEPARTMENT": "区城管局"}
    assert edges[0]["node"]["compound"]["name"]


async def test_a_page_of_company_rankings_costs_the_same_for_10_and_100(crowded, gql):
    small, _ = await _cost(gql, RANKINGS, crowded["admin"], 10)
    large, body = await _cost(gql, RANKINGS, crowded["admin"], 100)
    edges = body["data"]["companyRankings"]["edges"]
    assert [e["node"]["rank"] for e in edges] == list(range(1, 101))
    assert small == large, (small, large)
    assert edges[0]["node"]["company"]["name"] == "物业0"
