"""Object links (TicketUnit.name, Ticket.compound, CompanyRating.company) go through DataLoaders: a page of 10
and a page of 100 cost the same number of SQL statements."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tenants.assessment.models import CompanyRating, ListMark, RatingSnapshot, SnapshotStatus
from tenants.scope import tenant_context, tenant_transaction
from tenants.settings import Settings
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory import parties_service as parties
from tenants.territory.parties import PropertyCompany
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.tickets.models import Channel, Ticket, UnitKind
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.territory import build

ROWS = 110
TICKETS = """query($n: Int!) { tickets(first: $n) { edges { node { id state itemTitle
  assignee { kind id name } compound { name } timeline { toStatus } } } } }"""
RANKINGS = """query($n: Int!) { companyRankings(period: "2026Q3", first: $n) { edges { node { rank
  company { id name creditCode } } } } }"""


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "connection pool" not in record.getMessage():
            self.statements.append(record.getMessage())


@contextmanager
def counting():
    logger = logging.getLogger("tortoise.db_client")
    counter, level = Counter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter.statements
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


@pytest.fixture
async def crowded(app, settings: Settings) -> dict:
    """A tenant with 110 companies rated in a published 2026Q3 snapshot, and 110 tickets assigned in turn to a
    community, a street, a company and a county department."""
    t = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    ids = await build(t.id)
    with tenant_context(t.id):
        unit = await parties.create_unit(
            access=ADMIN, actor="seed", kind=PartyUnitKind.COUNTY_DEPARTMENT, code="城管", name="区城管局"
        )
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
    with counting() as statements:
        body = await gql(query, token, {"n": n})
    assert "errors" not in body, body
    return len(statements), body


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
