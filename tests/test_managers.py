"""Property managers 物业经理 (issue 19 part D): history on contracts, ratings from compounds, elimination by
manager (1,500 -> 15, 100 -> 1, bottom 0 with below 60), decisions, isolation, hostile input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tenants.assessment import elimination, manager_history, reports
from tenants.assessment.manager_models import EliminationOutcome, EliminationTarget
from tenants.assessment.managers import manager_ratings
from tenants.config.service import change_config
from tenants.errors import Conflict, Forbidden, InvalidInput, NotFound
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import managers
from tenants.territory.access import Access
from tenants.territory.parties import ContractManager, PropertyContract, PropertyManager
from tests.fixtures.callers import ADMIN

pytestmark = pytest.mark.on_day(date(2026, 12, 1))


def company(company_id: int) -> Access:
    return Access(roles=frozenset({Role.PROPERTY_COMPANY}), user_id="staff", companies=frozenset({company_id}))


async def _ids_by_rank(tenant_id: int) -> list[int]:
    """The generated managers, the lowest scored first (manager n is the n-th lowest, by id)."""
    async with tenant_transaction(tenant_id):
        return list(await PropertyManager.all().order_by("id").values_list("id", flat=True))


async def test_the_bottom_one_percent_is_the_ceiling_of_the_share(manager_world):
    w = manager_world
    big = await _ids_by_rank(w.big.id)
    async with tenant_transaction(w.big.id):
        found = await reports.elimination_candidates(access=ADMIN, year=2026)
    # 1 % of 1,500 managers: 15, the 15 lowest; each named with their firm.
    assert len(big) == 1500
    assert [c.manager_id for c in found] == big[:15]
    assert {c.company_id for c in found} == {w.ids["big"]["P2"]}
    assert found[0].average_score == Decimal("40.03") and found[-1].average_score == Decimal("40.45")
    assert {tuple(c.reasons) for c in found} == {("bottom 1%",)} and {c.periods for c in found} == {1}
    small = await _ids_by_rank(w.small.id)
    async with tenant_transaction(w.small.id):
        one = await reports.elimination_candidates(access=ADMIN, year=2026)
    # 1 % of 100: 1. Another tenant's 1,500 are nowhere in it.
    assert [(c.manager_id, c.average_score) for c in one] == [(small[0], Decimal("40.50"))]
    assert not set(big) & {c.manager_id for c in one}


async def test_no_share_takes_only_those_below_the_score(manager_world):
    w = manager_world
    small = await _ids_by_rank(w.small.id)
    async with tenant_transaction(w.small.id):
        await change_config(access=ADMIN, actor="admin", comment="不合格的淘汰",
                            set_values={"assessment": {"elimination": {"bottom_percent": 0, "below_score": 60}}})
        found = await reports.elimination_candidates(access=ADMIN, year=2026)
    # 40.50 + 0.50 x (n - 1) < 60 for n = 1..39; the 40th scores 60.00, not below.
    assert [c.manager_id for c in found] == small[:39]
    assert found[-1].average_score == Decimal("59.50")
    assert {tuple(c.reasons) for c in found} == {("below 60",)}


async def test_black_list_times_count_the_periods_a_firm_of_theirs_was_on_it(manager_world):
    w = manager_world
    async with tenant_transaction(w.small.id):
        await change_config(access=ADMIN, actor="admin", comment="上黑榜即淘汰", set_values={
            "assessment": {"elimination": {"bottom_percent": 0, "below_score": 0, "black_list_times": 1}}})
        found = await reports.elimination_candidates(access=ADMIN, year=2026)
    # P1 was on 2026Q3's black list: each of its 100 managers managed one of its compounds then.
    assert len(found) == 100
    assert {(c.black_list_times, tuple(c.reasons)) for c in found} == {(1, ("black list 1 times",))}
    async with tenant_transaction(w.big.id):
        assert {c.black_list_times for c in await reports.elimination_candidates(access=ADMIN, year=2026)} == {0}


async def test_history_is_kept_when_a_manager_is_replaced(manager_world):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        rows = await managers.contract_managers(access=ADMIN, contract_id=h["contract_K2"])
        assert [(r.manager_id, r.starts_on, r.ends_on, r.reason, r.successor_id) for r in rows] == [
            (h["A"], date(2026, 1, 1), date(2026, 7, 31), "", h["change"]),
            (h["B"], date(2026, 8, 1), None, "不胜任", None),
        ]
        # Back to A from December: B's row ends the day before, A's first row stays as it was.
        back = await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K2"],
                                                      manager_id=h["A"], starts_on=date(2026, 12, 1), reason="复岗")
        rows = await managers.contract_managers(access=ADMIN, contract_id=h["contract_K2"])
        assert [(r.manager_id, r.ends_on, r.successor_id) for r in rows] == [
            (h["A"], date(2026, 7, 31), h["change"]), (h["B"], date(2026, 11, 30), back.id), (h["A"], None, None),
        ]
        # History is not rewritten: a start before the current one's, or a day outside the contract; the current
        # one's own day is a correction, which needs a reason.
        refused = ((date(2026, 12, 1), InvalidInput), (date(2026, 9, 1), Conflict), (date(2029, 1, 1), InvalidInput))
        for day, error in refused:
            with pytest.raises(error):
                await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K2"],
                                                       manager_id=h["B"], starts_on=day, reason="")
        # The same manager again is a conflict.
        with pytest.raises(Conflict):
            await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K2"],
                                                   manager_id=h["A"], starts_on=date(2026, 12, 15), reason="")


async def test_a_manager_is_rated_by_the_days_they_managed_each_compound(manager_world):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        rated = (await manager_ratings(access=ADMIN, period_key="2026Q3")).rows
        # A: K1 90.00 for 92 days, K2 60.00 for July's 31 days, equal fees: (90 x 92 + 60 x 31) / 123 = 82.44.
        # B: K2 from 1 August, 61 days: 60.00.
        assert [(r.manager_id, r.score, r.compounds, r.days, r.rank) for r in rated] == [
            (h["A"], Decimal("82.44"), 2, 123, 1), (h["B"], Decimal("60.00"), 1, 61, 2),
        ]
        assert [r.manager_id for r in (await manager_ratings(access=company(h["P1"]), period_key="2026Q3")).rows] == [
            h["A"], h["B"]]
        assert (await manager_ratings(access=company(h["P2"]), period_key="2026Q3")).rows == []
        # 张家口 weighs by fee: with K2's fee 0, A is K1's 90.00; B, with no fee at all, is weighted by days.
        await PropertyContract.filter(id=h["contract_K2"]).update(annual_fee_fen=0)
        rated = (await manager_ratings(access=ADMIN, period_key="2026Q3")).rows
        assert [(r.manager_id, r.score) for r in rated] == [(h["A"], Decimal("90.00")), (h["B"], Decimal("60.00"))]
    async with tenant_transaction(w.small.id):  # another tenant's managers are not in its ratings
        rated = (await manager_ratings(access=ADMIN, period_key="2026Q3")).rows
        assert not {h["A"], h["B"]} & {r.manager_id for r in rated}


async def test_a_candidate_leads_to_one_recorded_decision(manager_world):
    w = manager_world
    first, second = (await _ids_by_rank(w.small.id))[:2]
    async with tenant_transaction(w.small.id):
        row = await ContractManager.get(manager_id=first)
        # Replaced 撤换: the second manager takes the first one's contract from November.
        await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=row.contract_id,
                                               manager_id=second, starts_on=date(2026, 11, 1), reason="末位淘汰")

        async def decide(target: int, outcome: EliminationOutcome, link: int | None = None, by: Access = ADMIN):
            return await elimination.decide(access=by, actor="admin", year=2026, target=EliminationTarget.MANAGER,
                                            target_id=target, outcome=outcome, reason="年度考核末位",
                                            contract_manager_id=link)

        with pytest.raises(InvalidInput):  # replaced names the change
            await decide(first, EliminationOutcome.REPLACED)
        with pytest.raises(NotFound):  # the second manager is not a candidate
            await decide(second, EliminationOutcome.WARNED)
        with pytest.raises(Forbidden):
            await decide(first, EliminationOutcome.KEPT, by=company(w.ids["small"]["P1"]))
        decision = await decide(first, EliminationOutcome.REPLACED, row.id)
        assert (decision.outcome, decision.contract_manager_id) == (EliminationOutcome.REPLACED, row.id)
        with pytest.raises(Conflict):
            await decide(first, EliminationOutcome.WARNED)
        assert [d.id for d in await elimination.decisions(access=ADMIN, year=2026)] == [decision.id]
    async with tenant_transaction(w.big.id):
        assert await elimination.decisions(access=ADMIN, year=2026) == []


@pytest.mark.parametrize(
    ("name", "phone", "field", "reason"),
    [
        ("", "", "name", "required"),
        ("王\u202e经理", "", "name", "bidi"),
        ("王\x00", "", "name", "nul"),
        ("王" * 101, "", "name", "too_long"),
        ("王经理", "1380013800a", "phone", "phone"),
    ],
)
async def test_hostile_input_is_refused_with_its_reason(manager_world, name, phone, field, reason):
    w = manager_world
    async with tenant_transaction(w.hist.id):
        with pytest.raises(InvalidInput) as caught:
            await managers.create_manager(access=ADMIN, actor="admin", company_id=w.ids["hist"]["P1"], name=name,
                                          phone=phone)
    assert [(p.field, p.reason) for p in caught.value.problems] == [(field, reason)]


async def test_a_manager_of_another_firm_or_tenant_is_not_named(manager_world):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        other = await managers.create_manager(access=ADMIN, actor="admin", company_id=h["P2"], name="赵经理")
        with pytest.raises(InvalidInput):
            await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K1"],
                                                   manager_id=other.id, starts_on=date(2026, 12, 1), reason="")
        with pytest.raises(Forbidden):
            await manager_history.assign_contract_manager(access=company(h["P1"]), actor="p1",
                                                          contract_id=h["contract_K1"], manager_id=h["B"],
                                                          starts_on=date(2026, 12, 1), reason="")
    big_manager = (await _ids_by_rank(w.big.id))[0]
    async with tenant_transaction(w.big.id):
        big_contract = (await ContractManager.get(manager_id=big_manager)).contract_id
    async with tenant_transaction(w.hist.id):
        with pytest.raises(NotFound):
            await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K1"],
                                                   manager_id=big_manager, starts_on=date(2026, 12, 1), reason="")
        with pytest.raises(NotFound):
            await managers.contract_managers(access=ADMIN, contract_id=big_contract)
