"""Property managers after review (issue 19 part D fixes): a compound that changes firm mid-period, the history
guard of published periods, corrections and ends, who reads managers and phones, ties and unscored at the
elimination cut, the exact yearly average, paging, id kinds, the phone's length."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tortoise import connections

from tenants.assessment import manager_history, reports
from tenants.assessment.managers import manager_ratings, period_scores
from tenants.assessment.models import CompanyRating, CompoundRating, ListMark, RatingSnapshot, SnapshotStatus
from tenants.audit.models import AuditEntry
from tenants.config.service import change_config
from tenants.errors import Conflict, Forbidden, InvalidInput
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import managers
from tenants.territory.access import Access
from tenants.territory.parties import PropertyContract, PropertyManager
from tenants.territory.parties_service import create_contract
from tests.fixtures.callers import ADMIN
from tests.fixtures.managers import FIRST_FAKE_COMPOUND, SCORED

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

Q3 = (date(2026, 7, 1), date(2026, 9, 30))


def company(company_id: int) -> Access:
    return Access(roles=frozenset({Role.PROPERTY_COMPANY}), user_id="staff", companies=frozenset({company_id}))


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
        await manager_history.assign_contract_manager(access=ADMIN, actor="seed", contract_id=new.id, manager_id=c.id,
                                                      starts_on=date(2026, 9, 1), reason="P2 接管（补录）",
                                                      override_published=True)
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
    assert [(c.manager_id, str(c.average_score)) for c in found] == [(small[0], "60.00"), (small[1], "70.13")]


def _street_officer(street_id: int) -> Access:
    return Access(roles=frozenset({Role.STREET_OFFICER}), user_id="so", nodes={"street": frozenset({street_id})},
                  staff_nodes={"street": frozenset({street_id})})


async def test_published_periods_are_guarded_and_a_naming_is_corrected_in_place(manager_world):
    w = manager_world
    h = w.ids["hist"]
    assign = manager_history.assign_contract_manager
    async with tenant_transaction(w.hist.id):
        c = await managers.create_manager(access=ADMIN, actor="seed", company_id=h["P1"], name="经理C")
        # 2026Q3 is published (to 30 September): a street officer cannot name anyone from a day in it, nor can an
        # administrator without a reason; the error names the period.
        for who, reason in ((_street_officer(h["S1"]), "补录"), (ADMIN, "")):
            with pytest.raises(InvalidInput) as caught:
                await assign(access=who, actor="x", contract_id=h["contract_K2"], manager_id=c.id,
                             starts_on=date(2026, 9, 30), reason=reason)
            assert [(p.field, p.reason) for p in caught.value.problems] == [("from", "published_period")]
            assert caught.value.details == {"period": "2026Q3", "periodEnd": "2026-09-30"}
        # From 1 October anyone allowed may; the next day's naming of the same row is a correction.
        row = await assign(access=_street_officer(h["S1"]), actor="so", contract_id=h["contract_K2"],
                           manager_id=c.id, starts_on=date(2026, 10, 1), reason="轮岗")
        with pytest.raises(InvalidInput):  # a correction needs a reason
            await assign(access=ADMIN, actor="admin", contract_id=h["contract_K2"], manager_id=h["A"],
                         starts_on=date(2026, 10, 1), reason="")
        fixed = await assign(access=ADMIN, actor="admin", contract_id=h["contract_K2"], manager_id=h["A"],
                             starts_on=date(2026, 10, 1), reason="录错了人")
        rows = await managers.contract_managers(access=ADMIN, contract_id=h["contract_K2"])
        # The same row (B's successor link stays true), now naming A; the audit log keeps C.
        assert fixed.id == row.id
        assert [(r.manager_id, r.starts_on, r.ends_on, r.successor_id) for r in rows] == [
            (h["A"], date(2026, 1, 1), date(2026, 7, 31), h["change"]),
            (h["B"], date(2026, 8, 1), date(2026, 9, 30), row.id),
            (h["A"], date(2026, 10, 1), None, None),
        ]
        entry = await AuditEntry.filter(action="contract.manager.correct").get()
        assert (entry.details["correctedManagerId"], entry.details["managerId"]) == (c.id, h["A"])
        # A tenant administrator with a reason and the explicit override may reach into the published period
        # (audited with the period).
        await manager_history.end_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K1"],
                                                   ends_on=date(2026, 9, 15), reason="离职（补录）",
                                                   override_published=True)
        ended = await AuditEntry.filter(action="contract.manager.end").get()
        assert ended.details["publishedPeriod"] == {"period": "2026Q3", "periodEnd": "2026-09-30"}
        rated = {r.manager_id: r.days for r in (await manager_ratings(access=ADMIN, period_key="2026Q3")).rows}
        # A's K1 days stop on 15 September: 77 of them, plus July's 31 on K2.
        assert rated[h["A"]] == 77 + 31


async def test_ending_a_manager_and_naming_an_inactive_one(manager_world):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        end = manager_history.end_contract_manager
        with pytest.raises(InvalidInput):  # a reason is required
            await end(access=ADMIN, actor="admin", contract_id=h["contract_K2"], ends_on=date(2026, 12, 5), reason="")
        with pytest.raises(InvalidInput):  # before the current manager's start
            await end(access=ADMIN, actor="admin", contract_id=h["contract_K2"], ends_on=date(2026, 7, 1),
                      reason="离职")
        with pytest.raises(Forbidden):
            await end(access=company(h["P1"]), actor="p1", contract_id=h["contract_K2"], ends_on=date(2026, 12, 5),
                      reason="离职")
        row = await end(access=ADMIN, actor="admin", contract_id=h["contract_K2"], ends_on=date(2026, 12, 5),
                        reason="离职")
        assert (row.manager_id, row.ends_on, row.end_reason, row.successor_id) == (h["B"], date(2026, 12, 5), "离职",
                                                                                   None)
        with pytest.raises(Conflict):  # no one is named any more
            await end(access=ADMIN, actor="admin", contract_id=h["contract_K2"], ends_on=date(2026, 12, 6),
                      reason="离职")
        with pytest.raises(Conflict):  # a day B still managed
            await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K2"],
                                                          manager_id=h["A"], starts_on=date(2026, 12, 5), reason="")
        await PropertyManager.filter(id=h["A"]).update(is_active=False)
        with pytest.raises(InvalidInput) as caught:
            await manager_history.assign_contract_manager(access=ADMIN, actor="admin", contract_id=h["contract_K2"],
                                                          manager_id=h["A"], starts_on=date(2026, 12, 6), reason="")
        assert [(p.field, p.reason) for p in caught.value.problems] == [("managerId", "inactive")]


@pytest.mark.parametrize(("phone", "ok"), [
    ("+86 138-0013-8000", True),
    ("1" * 20, True),
    ("1-" * 15 + "12", True),  # 32 characters, 17 digits: the column's length
    ("+" + "1 " * 15 + "11", False),  # 33 with the leading +: the pattern alone let it through
])
async def test_a_phone_fits_its_column(manager_world, phone, ok):
    w = manager_world
    async with tenant_transaction(w.hist.id):
        if ok:
            made = await managers.create_manager(access=ADMIN, actor="a", company_id=w.ids["hist"]["P1"], name="王",
                                                 phone=phone)
            assert made.phone == phone
        else:
            with pytest.raises(InvalidInput) as caught:
                await managers.create_manager(access=ADMIN, actor="a", company_id=w.ids["hist"]["P1"], name="王",
                                              phone=phone)
            assert [(p.field, p.reason) for p in caught.value.problems] == [("phone", "phone")]
