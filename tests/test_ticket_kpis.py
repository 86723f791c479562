"""Ticket KPIs, the compound series and the public ranking 晾晒, on a fixture small enough to count by hand.

Tickets are made through the ticket services with explicit times; the figures are read through GraphQL, on a
schema built here from ``TicketKpiQuery`` with the production error shaping and per-operation transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.auth import Principal
from api.context import Context, Loaders
from api.errors import ShapeErrors
from api.tickets.kpis import TicketKpiQuery
from api.transaction import OperationTransaction
from tenants.scope import tenant_context
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.access import Access
from tenants.tickets import intake, workflow
from tenants.tickets.kpis import Kpi, rank, rate_bp
from tenants.tickets.models import Channel
from tests.fixtures.callers import ADMIN
from tests.fixtures.territory import build

CST = ZoneInfo("Asia/Shanghai")  # 张家口's time zone: periods are local dates
RESIDENT = Access(roles=frozenset({Role.RESIDENT}), user_id="res-1")
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}


@strawberry.type
class _Query(TicketKpiQuery):
    pass


_schema = strawberry.Schema(query=_Query, extensions=[ShapeErrors, OperationTransaction])

KPIS = """query($p: TicketKpiPeriodInput!, $d: TicketKpiDimension!) { ticketKpis(period: $p, dimension: $d) {
  kind id name received rejected closed closureRateBp resolved onTimeRateBp rated satisfactionRateBp
  avgHoursToResolve reopened escalations } }"""
RANKING = "query($p: TicketKpiPeriodInput!) { unitRanking(period: $p) { rank unit { kind name closureRateBp } } }"
SERIES = """query($k: ID!, $f: String!, $t: String!) { compoundTicketSeries(compoundId: $k, fromMonth: $f,
  toMonth: $t) { month count } }"""


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


async def run(query: str, tenant, *roles: Role, scope: tuple[str, ...] = (), **variables):
    principal = Principal("u-test", frozenset(roles), tenant.slug, tenant.id, scope)
    ctx = Context(
        request=None,
        response=None,
        settings=None,
        principal=principal,
        loaders=Loaders(principal),
    )
    return await _schema.execute(query, variable_values=variables, context_value=ctx)


def figures(row: dict) -> tuple:
    return (
        row["name"],
        row["received"],
        row["rejected"],
        row["closed"],
        row["closureRateBp"],
        row["resolved"],
        row["onTimeRateBp"],
        row["rated"],
        row["satisfactionRateBp"],
        row["avgHoursToResolve"],
        row["reopened"],
        row["escalations"],
    )


async def kpis(tenant, dimension: str, *roles: Role, scope: tuple[str, ...] = (), period=MARCH) -> list[tuple]:
    result = await run(KPIS, tenant, *roles, scope=scope, p=period, d=dimension)
    assert result.errors is None, result.errors
    return [figures(r) for r in result.data["ticketKpis"]]


async def _open(item: str, compound: int, when: datetime) -> int:
    ticket = await intake.report(
        access=ADMIN,
        actor="hotline",
        item_code=item,
        description="居民来电反映",
        channel=Channel.HOTLINE,
        compound_id=compound,
        on_behalf_of="res-1",
        now=when,
    )
    return ticket.id


async def _to_unit(tid: int, dispatched: datetime, accepted: datetime | None = None) -> None:
    await workflow.dispatch(access=ADMIN, actor="cw", ticket_id=tid, now=dispatched)
    if accepted is not None:
        await workflow.accept(access=ADMIN, actor="unit", ticket_id=tid, now=accepted)


async def _resolve(tid: int, when: datetime) -> None:
    await workflow.resolve(access=ADMIN, actor="unit", ticket_id=tid, note="已处理", now=when)


async def _rate(tid: int, rating: int, when: datetime) -> None:
    await workflow.rate(access=RESIDENT, actor="res-1", ticket_id=tid, rating=rating, now=when)


async def _escalate(tid: int, when: datetime) -> None:
    await workflow.escalate(access=ADMIN, actor="street", ticket_id=tid, reason="超时未办", now=when)


@pytest.fixture
async def city(app, once):
    """张家口 (zhangjiakou preset) with the territory of ``build``: P1 serves K1, P2 serves K3, K2 has no company
    (its property items go to community C2). Times are Beijing time; the period is March 2026."""
    return await once(_city)


async def _city():
    a = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    b = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    ids, b_ids = await build(a.id), await build(b.id)
    from tenants.scope import tenant_transaction
    from tenants.territory.people import Person

    for tenant, user, tids in ((a, "res-1", ids), (b, "res-b", b_ids)):  # the residents the hotline reports for
        async with tenant_transaction(tenant.id):
            await Person.create(user_id=user, name=user, household_id=tids["H1"])
    with tenant_context(a.id):
        # T0: opened in February (not received in March), its escalation on 03-02 counts for P1 / K1 / C1 / S1.
        t0 = await _open("elevator_fault", ids["K1"], at(2, 20, 9))
        await _to_unit(t0, at(2, 20, 10))
        await _escalate(t0, at(3, 2, 9))
        # T1: K1 -> P1 (24 h). Opened 03-01 00:30 local (still 02-28 in UTC), resolved after 10 h, on time, rated 5.
        t1 = await _open("corridor_clutter", ids["K1"], at(3, 1, 0, 30))
        await _to_unit(t1, at(3, 1, 1), at(3, 1, 2))
        await _resolve(t1, at(3, 1, 10, 30))
        await _rate(t1, 5, at(3, 1, 12))
        # T2: K1 -> P1 (12 h, due 03-05 21:00). Resolved late 03-06 08:00, rated 2: reopened (due 03-06 21:00),
        # resolved again 03-06 20:00 (on time; 36 h after opening), rated 4: closed.
        t2 = await _open("elevator_fault", ids["K1"], at(3, 5, 8))
        await _to_unit(t2, at(3, 5, 9), at(3, 5, 10))
        await _resolve(t2, at(3, 6, 8))
        await _rate(t2, 2, at(3, 6, 9))
        await _resolve(t2, at(3, 6, 20))
        await _rate(t2, 4, at(3, 6, 21))
        # T3: K2 has no company -> community C2 (24 h, due 03-11 10:00); resolved 03-11 12:00 (late, 27 h), unrated.
        t3 = await _open("corridor_clutter", ids["K2"], at(3, 10, 9))
        await _to_unit(t3, at(3, 10, 10), at(3, 10, 11))
        await _resolve(t3, at(3, 11, 12))
        # T4: K3 -> P2, accepted, escalated 03-13 (P2 collects it), still open.
        t4 = await _open("garbage_removal", ids["K3"], at(3, 12, 9))
        await _to_unit(t4, at(3, 12, 10), at(3, 12, 11))
        await _escalate(t4, at(3, 13, 9))
        # T5: K1, rejected before dispatch: received by K1 / C1 / S1, no unit.
        t5 = await _open("noise", ids["K1"], at(3, 15, 9))
        await workflow.reject(access=ADMIN, actor="cw", ticket_id=t5, reason="不属于受理范围", now=at(3, 15, 10))
        # T6: K3, never dispatched, escalated 03-20: the community that should have dispatched it, C3, collects
        # the escalation as a unit (it received nothing as a unit); as places it counts for K3 / C3 / S2.
        t6 = await _open("parking_disorder", ids["K3"], at(3, 20, 9))
        await _escalate(t6, at(3, 20, 13))
        # T7: K1 -> P1, opened 04-01 00:30 local (03-31 in UTC): April's, and so is its escalation.
        t7 = await _open("elevator_fault", ids["K1"], at(4, 1, 0, 30))
        await _to_unit(t7, at(4, 1, 1))
        await _escalate(t7, at(4, 1, 5))
    with tenant_context(b.id):
        tb = await intake.report(
            access=ADMIN,
            actor="hotline",
            item_code="cleaning_lapse",
            description="保洁不到位",
            channel=Channel.HOTLINE,
            compound_id=b_ids["K1"],
            on_behalf_of="res-b",
            now=at(3, 3, 9),
        )
        await _to_unit(tb.id, at(3, 3, 10))
    return {"a": a, "b": b, "ids": ids, "b_ids": b_ids}


# name, received, rejected, closed, closure bp, resolved, on-time bp, rated, satisfaction bp, avg h, reopened, esc.
# P1: T1 + T2, both closed (2/2), both resolved on time (2/2), both satisfied (2/2), (10 h + 36 h) / 2 = 23.0 h,
# T2 reopened once; T0's escalation on 03-02.
P1 = ("P1", 2, 0, 2, 10000, 2, 10000, 2, 10000, "23.0", 1, 1)
# P2: T4 open (0 closed of 1), nothing resolved or rated; T4's escalation.
P2 = ("P2", 1, 0, 0, 0, 0, None, 0, None, None, 0, 1)
# C2 as a unit and as a place: T3, resolved late (0 of 1 on time), unrated, 27 h.
C2 = ("C2名", 1, 0, 0, 0, 1, 0, 0, None, "27.0", 0, 0)
# C1 (= K1): T1, T2, T5; T5 rejected, so closure = 2 / (3 - 1); T0's escalation.
C1 = ("C1名", 3, 1, 2, 10000, 2, 10000, 2, 10000, "23.0", 1, 1)
# C3 (= K3): T4, T6, both open; escalations of T4 and T6.
C3 = ("C3名", 2, 0, 0, 0, 0, None, 0, None, None, 0, 2)
# C3 as a unit: no ticket assigned to it, one escalation (T6, before dispatch); no rates without a denominator.
C3_UNIT = ("C3名", 0, 0, 0, None, 0, None, 0, None, None, 0, 1)
# S1 = C1 + C2: closed 2 of (4 - 1) = 6667 bp; on time 2 of 3 resolved = 6667 bp; (10 + 36 + 27) / 3 = 24.3 h.
S1 = ("S1名", 4, 1, 2, 6667, 3, 6667, 2, 10000, "24.3", 1, 1)
S2 = ("S2名", *C3[1:])


def renamed(row: tuple, name: str) -> tuple:
    return (name, *row[1:])


async def test_each_dimension_matches_the_hand_arithmetic(city):
    a = city["a"]
    assert await kpis(a, "UNIT", Role.TENANT_ADMIN) == [C2, C3_UNIT, P1, P2]  # by kind (community first), then id
    assert await kpis(a, "PROPERTY_COMPANY", Role.TENANT_ADMIN) == [P1, P2]
    assert await kpis(a, "COMMUNITY", Role.TENANT_ADMIN) == [C1, C2, C3]
    assert await kpis(a, "STREET", Role.HOUSING_DEPT) == [S1, S2]
    assert await kpis(a, "COMPOUND", Role.TENANT_ADMIN) == [
        renamed(C1, "K1名"),
        renamed(C2, "K2名"),
        renamed(C3, "K3名"),
    ]
    # April holds T7 and its escalation only: P1 received 1, nothing closed or resolved.
    april = await kpis(a, "UNIT", Role.TENANT_ADMIN, period={"from": "2026-04-01", "to": "2026-05-01"})
    assert april == [("P1", 1, 0, 0, 0, 0, None, 0, None, None, 0, 1)]


async def test_kinds_and_ids_name_the_keys(city):
    result = await run(KPIS, city["a"], Role.TENANT_ADMIN, p=MARCH, d="UNIT")
    keys = [(r["kind"], r["id"]) for r in result.data["ticketKpis"]]
    ids = city["ids"]
    assert keys == [
        ("COMMUNITY", str(ids["C2"])),
        ("COMMUNITY", str(ids["C3"])),
        ("PROPERTY_COMPANY", str(ids["P1"])),
        ("PROPERTY_COMPANY", str(ids["P2"])),
    ]


async def test_each_scope_sees_its_own_keys(city):
    a, ids = city["a"], city["ids"]
    street = (f"street:{ids['S1']}",)
    assert await kpis(a, "STREET", Role.STREET_OFFICER, scope=street) == [S1]
    assert await kpis(a, "COMMUNITY", Role.STREET_OFFICER, scope=street) == [C1, C2]
    # The units working in S1, on S1's tickets: P2 works only in S2.
    assert await kpis(a, "UNIT", Role.STREET_OFFICER, scope=street) == [C2, P1]
    community = (f"community:{ids['C2']}",)
    assert await kpis(a, "STREET", Role.COMMUNITY_WORKER, scope=community) == []  # S1 is not wholly theirs
    assert await kpis(a, "COMPOUND", Role.COMMUNITY_WORKER, scope=community) == [renamed(C2, "K2名")]
    assert await kpis(a, "UNIT", Role.COMMUNITY_WORKER, scope=community) == [C2]
    company = (f"company:{ids['P1']}",)
    assert await kpis(a, "UNIT", Role.PROPERTY_COMPANY, scope=company) == [P1]
    assert await kpis(a, "PROPERTY_COMPANY", Role.PROPERTY_COMPANY, scope=company) == [P1]
    assert await kpis(a, "COMPOUND", Role.PROPERTY_COMPANY, scope=company) == [renamed(C1, "K1名")]  # it serves K1
    assert await kpis(a, "COMMUNITY", Role.PROPERTY_COMPANY, scope=company) == []
    committee = (f"compound:{ids['K3']}",)
    assert await kpis(a, "UNIT", Role.OWNERS_COMMITTEE, scope=committee) == [C3_UNIT, P2]
    resident = await run(KPIS, a, Role.RESIDENT, scope=(f"household:{ids['H1']}",), p=MARCH, d="UNIT")
    assert [e.extensions["code"] for e in resident.errors] == ["FORBIDDEN"]


async def test_the_ranking_is_public_and_ordered_by_the_written_rule(city):
    result = await run(RANKING, city["a"], Role.RESIDENT, scope=(f"household:{city['ids']['H1']}",), p=MARCH)
    assert result.errors is None, result.errors
    # P1 closes 100%; C2 and P2 both close 0% and have no ratings; C2 has an on-time rate (0%), P2 none;
    # C3 received nothing as a unit, so it has no closure rate at all: last.
    assert [(r["rank"], r["unit"]["name"], r["unit"]["closureRateBp"]) for r in result.data["unitRanking"]] == [
        (1, "P1", 10000),
        (2, "C2名", 0),
        (3, "P2", 0),
        (4, "C3名", None),
    ]


def test_ranking_ties_fall_to_escalations_then_kind_and_id():
    def k(kind: str, id: int, closed: int, esc: int) -> Kpi:
        return Kpi(kind=kind, id=id, name=None, received=2, closed=closed, escalations=esc)

    rows = [
        k("street", 1, 1, 0),
        k("property_company", 9, 1, 0),
        k("property_company", 4, 1, 0),
        k("community", 7, 1, 2),
        k("community", 8, 2, 5),
        k("community", 3, 0, 0),
    ]
    assert [(r.rank, r.kpi.kind, r.kpi.id) for r in rank(rows)] == [
        (1, "community", 8),  # 100% closed, however many escalations
        (2, "property_company", 4),
        (3, "property_company", 9),
        (4, "street", 1),  # 50%, none: kind, id
        (5, "community", 7),  # 50% with 2 escalations
        (6, "community", 3),  # 0%
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_rates_are_exact_basis_points_rounded_half_up(part, whole):
    part = min(part, whole)
    bp = rate_bp(part, whole)
    assert bp is not None and 0 <= bp <= 10000
    assert abs(bp * whole - part * 10000) * 2 <= whole  # within half a basis point of the exact ratio
    assert rate_bp(part, 0) is None


async def test_the_compound_series_has_every_month(city):
    a, ids = city["a"], city["ids"]
    result = await run(
        SERIES, a, Role.STREET_OFFICER, scope=(f"street:{ids['S1']}",), k=str(ids["K1"]), f="2026-01", t="2026-05"
    )
    assert result.errors is None, result.errors
    # K1: T0 in February; T1 (00:30 on 1 March local), T2, T5 in March; T7 (00:30 on 1 April local) in April.
    assert [(m["month"], m["count"]) for m in result.data["compoundTicketSeries"]] == [
        ("2026-01", 0),
        ("2026-02", 1),
        ("2026-03", 3),
        ("2026-04", 1),
        ("2026-05", 0),
    ]
    outside = await run(
        SERIES, a, Role.STREET_OFFICER, scope=(f"street:{ids['S2']}",), k=str(ids["K1"]), f="2026-01", t="2026-05"
    )
    assert [e.extensions["code"] for e in outside.errors] == ["NOT_FOUND"]
    for f, t, field in (
        ("2026-13", "2026-05", "fromMonth"),
        ("2026-05", "2026-01", "toMonth"),
        ("2023-01", "2026-01", "toMonth"),
    ):
        bad = await run(SERIES, a, Role.TENANT_ADMIN, k=str(ids["K1"]), f=f, t=t)
        assert (bad.errors[0].extensions["code"], bad.errors[0].extensions["field"]) == ("INVALID_INPUT", field)


async def test_periods_are_checked(city):
    for period in ({"from": "2026-04-01", "to": "2026-04-01"}, {"from": "2026-01-01", "to": "2027-01-03"}):
        result = await run(KPIS, city["a"], Role.TENANT_ADMIN, p=period, d="UNIT")
        assert [(e.extensions["code"], e.extensions["field"]) for e in result.errors] == [
            ("INVALID_INPUT", "period.to")
        ]
    ok = await run(KPIS, city["a"], Role.TENANT_ADMIN, p={"from": "2026-01-01", "to": "2027-01-02"}, d="UNIT")
    assert ok.errors is None  # 366 days


async def test_another_tenant_sees_only_its_own(city):
    b, b_ids = city["b"], city["b_ids"]
    assert await kpis(b, "UNIT", Role.TENANT_ADMIN) == [("P1", 1, 0, 0, 0, 0, None, 0, None, None, 0, 0)]
    assert await kpis(b, "STREET", Role.TENANT_ADMIN) == [("S1名", 1, 0, 0, 0, 0, None, 0, None, None, 0, 0)]
    ranking = await run(RANKING, b, Role.RESIDENT, p=MARCH)
    assert [r["unit"]["name"] for r in ranking.data["unitRanking"]] == ["P1"]
    # Tenant A's compound id does not exist in B.
    series = await run(SERIES, b, Role.TENANT_ADMIN, k=str(city["ids"]["K1"]), f="2026-03", t="2026-03")
    assert [e.extensions["code"] for e in series.errors] == ["NOT_FOUND"]
    assert b_ids["K1"] != city["ids"]["K1"]
    with tenant_context(city["a"].id):
        from tenants.tickets import kpis as service

        rows = await service.ticket_kpis(
            access=ADMIN, start=date(2026, 3, 1), end=date(2026, 4, 1), dimension=service.Dimension.STREET
        )
    assert [r.received for r in rows] == [4, 2]  # B's March ticket is not in A's figures
