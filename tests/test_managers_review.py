"""Property managers after review (issue 19 part D fixes): a compound that changes firm mid-period, the history
guard of published periods, corrections and ends, who reads managers and phones, ties and unscored at the
elimination cut, the exact yearly average, paging, id kinds, the phone's length."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tortoise import connections

from tenants.assessment import reports
from tenants.assessment.managers import period_scores
from tenants.assessment.models import CompanyRating, CompoundRating, ListMark, RatingSnapshot, SnapshotStatus
from tenants.config.service import change_config
from tenants.scope import tenant_transaction
from tenants.territory import managers
from tenants.territory.parties import PropertyContract, PropertyManager
from tenants.territory.parties_service import create_contract
from tests.fixtures.callers import ADMIN
from tests.fixtures.managers import FIRST_FAKE_COMPOUND, SCORED

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

Q3 = (date(2026, 7, 1), date(2026, 9, 30))


async def _ids_by_rank(tenant_id: int) -> list[int]:
    """The generated managers, the lowest scored first (manager n is the n-th lowest, by id)."""
    async with tenant_transaction(tenant_id):
        return list(await PropertyManager.all().order_by("id").values_list("id", flat=True))


async def test_a_compound_that_changes_firm_mid_period_keeps_every_managers_days(manager_world):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        # K2 passes from P1 to P2 on 1 September; P2 names C. The quarter's K2 row names the period-end firm, P2.
        await PropertyContract.filter(id=h["contract_K2"]).update(ends_on=date(2026, 8, 31))
        new = await create_contract(access=ADMIN, actor="seed", company_id=h["P2"], compound_id=h["K2"],
                                    starts_on=date(2026, 9, 1), ends_on=date(2028, 12, 31),
                                    annual_fee_fen=120_000_00)
        c = await managers.create_manager(access=ADMIN, actor="seed", company_id=h["P2"], name="经理C")
        await managers.assign_contract_manager(access=ADMIN, actor="seed", contract_id=new.id, manager_id=c.id,
                                               starts_on=date(2026, 9, 1), reason="")
        snap = await RatingSnapshot.create(period_key="2026Q3", revision=2, computed_at=datetime(2026, 10, 9,
                                                                                                tzinfo=UTC))
        for compound, firm, score in (("K1", "P1", "90.00"), ("K2", "P2", "60.00")):
            await CompoundRating.create(snapshot_id=snap.id, compound_id=h[compound], company_id=h[firm],
                                        score=Decimal(score), body_part=0, deductions=0, rank=1, breakdown={})
        await CompanyRating.create(snapshot_id=snap.id, company_id=h["P1"], score=Decimal("75"), rank=2,
                                   mark=ListMark.INTERVIEWED, breakdown={})
        rows = await period_scores([(snap.id, *Q3)], fee_weighted=False)
    got = {r["manager_id"]: (r["score"], r["days"], r["black"]) for r in rows}
    # A keeps July on K2 (82.44 as before), B August, C September; the black list is the contract's own firm's.
    assert got == {h["A"]: (Decimal("82.44"), 123, True), h["B"]: (Decimal("60.00"), 31, True),
                   c.id: (Decimal("60.00"), 30, False)}


async def _ratings(tenant_id: int, period: str, revision: int, score: str, breakdown: str = "breakdown",
                   firm_p2: tuple[dict, str, dict] | None = None) -> None:
    """A published revision of ``period``: the rows of 2026Q3's first revision with each compound's ``score`` (SQL
    over ``g``, the generated manager's number) and ``breakdown`` (SQL); ``firm_p2``: P2 rated too with this score
    on compound K2 with this breakdown (``ids``: the tenant's), P1 rated the same."""
    async with tenant_transaction(tenant_id):
        first = await RatingSnapshot.get(period_key="2026Q3", revision=1)
        snap = await RatingSnapshot.create(period_key=period, revision=revision, computed_at=datetime(2026, 10, 9,
                                                                                                    tzinfo=UTC))
        db = connections.get("default")
        await db.execute_query(
            "INSERT INTO compound_rating (tenant_id, snapshot_id, compound_id, company_id, score, body_part,"
            " objective_part, deductions, rank, breakdown)"
            f" SELECT tenant_id, $2, compound_id, company_id, {score}, 0, NULL, 0, rank, {breakdown}"
            f" FROM (SELECT *, compound_id - {FIRST_FAKE_COMPOUND} AS g FROM compound_rating) x"
            " WHERE tenant_id = $1 AND snapshot_id = $3",
            [tenant_id, snap.id, first.id],
        )
        await db.execute_query(
            "INSERT INTO company_rating (tenant_id, snapshot_id, company_id, score, rank, star, mark, breakdown)"
            " SELECT tenant_id, $2, company_id, score, rank, star, 'none', breakdown FROM company_rating"
            " WHERE tenant_id = $1 AND snapshot_id = $3",
            [tenant_id, snap.id, first.id],
        )
        if firm_p2 is not None:
            ids, score_p2, breakdown_p2 = firm_p2[0], Decimal(firm_p2[1]), firm_p2[2]
            await CompoundRating.create(snapshot_id=snap.id, compound_id=ids["K2"], company_id=ids["P2"],
                                        score=score_p2, body_part=0, deductions=0, rank=101, breakdown=breakdown_p2)
            await CompanyRating.create(snapshot_id=snap.id, company_id=ids["P2"], score=score_p2, rank=2,
                                       mark=ListMark.NONE, breakdown={})
            await CompanyRating.filter(snapshot_id=snap.id, company_id=ids["P1"]).update(score=Decimal("50.00"))
        await RatingSnapshot.filter(id=snap.id).update(status=SnapshotStatus.PUBLISHED, published_at=snap.computed_at,
                                                       published_by="seed")


async def _elimination(tenant_id: int, **rule: object) -> tuple[list, list]:
    async with tenant_transaction(tenant_id):
        if rule:
            await change_config(access=ADMIN, actor="admin", comment="淘汰规则",
                                set_values={"assessment": {"elimination": rule}})
        return await reports.elimination(access=ADMIN, year=2026)


async def test_everyone_tied_at_the_cut_is_a_candidate(manager_world):
    w = manager_world
    small = await _ids_by_rank(w.small.id)
    await _ratings(w.small.id, "2026Q3", 2, "50.00")
    found, unscored = await _elimination(w.small.id)
    # 1 % of 100 is 1, but all 100 score 50.00: all are in, none by database id; the whole run says tie_at_cut.
    assert [c.manager_id for c in found] == small and unscored == []
    assert {(tuple(c.reasons), c.average_score) for c in found} == {(("tie_at_cut",), Decimal("50.00"))}


async def test_firms_tied_at_the_cut_are_all_candidates(manager_world):
    w = manager_world
    s = w.ids["small"]
    await _ratings(w.small.id, "2026Q3", 2, "50.00", firm_p2=(s, "50.00", SCORED))
    found, _ = await _elimination(w.small.id, target="firm")
    # 1 % of two firms is one; both score 50.00: both are candidates.
    assert [(c.company_id, c.reasons) for c in found] == [(s["P1"], ["tie_at_cut"]), (s["P2"], ["tie_at_cut"])]


async def test_unscored_managers_and_firms_are_left_out_of_the_pool(manager_world):
    w = manager_world
    s = w.ids["small"]
    small = await _ids_by_rank(w.small.id)
    # No body scored manager 1's compound (the lowest, 40.50): out of the pool; manager 2 is the bottom 1 %.
    await _ratings(w.small.id, "2026Q3", 2, "score", "CASE g WHEN 1 THEN '{}'::jsonb ELSE breakdown END",
                   firm_p2=(s, "10.00", {}))
    found, unscored = await _elimination(w.small.id)
    assert [(c.manager_id, c.reasons) for c in found] == [(small[1], ["bottom 1%"])]
    assert [(u.manager_id, u.company_id) for u in unscored] == [(small[0], s["P1"])]
    # Firms: P1 was scored (99 of its compounds); P2 has a rating (10.00, the lowest) and no sheet at all.
    found, unscored = await _elimination(w.small.id, target="firm")
    assert [c.company_id for c in found] == [s["P1"]]
    assert [(u.company_id, u.manager_id) for u in unscored] == [(s["P2"], None)]


async def test_the_yearly_average_is_compared_exactly_and_shown_half_up(manager_world):
    w = manager_world
    small = await _ids_by_rank(w.small.id)
    # Manager 1: 59.99 and 60.00 (59.995, below 60, shown 60.00); manager 2: 70.00 and 70.25 (70.125: 70.13).
    await _ratings(w.small.id, "2026Q3", 2, "CASE g WHEN 1 THEN 59.99 WHEN 2 THEN 70.00 ELSE 80 END")
    await _ratings(w.small.id, "2026Q4", 1, "CASE g WHEN 1 THEN 60.00 WHEN 2 THEN 70.25 ELSE 80 END")
    found, _ = await _elimination(w.small.id, bottom_percent=0, below_score=60)
    assert [(c.manager_id, c.average_score, c.periods, c.reasons) for c in found] == [
        (small[0], Decimal("60.00"), 2, ["below 60"])]
    found, _ = await _elimination(w.small.id, below_score=71)
    assert [(c.manager_id, c.average_score) for c in found] == [(small[0], Decimal("60.00")),
                                                                (small[1], Decimal("70.13"))]
