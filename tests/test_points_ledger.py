"""The points ledger's primitives: lots spent oldest first, balances kept by the database and never negative,
spent points given back with their expiry, expiry once per lot, append-only entries, and the check."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
import time_machine
from tortoise import connections
from tortoise.exceptions import OperationalError

from tenants.points.ledger import (
    InsufficientPoints,
    Source,
    balance_of,
    credit,
    expire_due,
    expiry_day,
    give_back,
    spend,
    verify,
)
from tenants.points.models import EntryKind, PointsEntry, PointsExpiryRun, PointsLot, PointsPeriodTotal
from tenants.scope import tenant_transaction

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))

AT = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


async def _earn(person: int, amount: int, key: str, on: date, months: int = 12):
    entry, _ = await credit(
        person_id=person, amount=amount, key=key, occurred_on=on, expires_on=expiry_day(on, months),
        source=Source("manual", ref=key), author="tester", rule_code="duty", now=AT,
    )
    return entry


async def _spend(person: int, amount: int, key: str):
    entry, _ = await spend(
        person_id=person, amount=amount, key=key, occurred_on=date(2026, 3, 1), source=Source("voucher", 1),
        author="tester", redemption_code="meal", now=AT,
    )
    return entry


def test_expiry_is_calendar_months_later_on_the_same_day_or_the_month_end():
    assert expiry_day(date(2026, 1, 15), 12) == date(2027, 1, 15)
    assert expiry_day(date(2026, 1, 15), 24) == date(2028, 1, 15)
    assert expiry_day(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert expiry_day(date(2027, 12, 31), 2) == date(2028, 2, 29)
    assert expiry_day(date(2026, 1, 15), 0) is None


async def test_spending_takes_the_oldest_lots_and_a_return_keeps_their_expiry(three_tenants):
    a, b, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 30, "jan", date(2026, 1, 10))
        await _earn(1, 50, "feb", date(2026, 2, 10))
        await _earn(1, 40, "jan-older", date(2026, 1, 5))
        assert await balance_of(1) == 120
        spent = await _spend(1, 60, "redeem-1")
        assert spent.amount == -60
        lots = {lot.earned_on: lot.remaining for lot in await PointsLot.filter(person_id=1)}
        # the lot of 5 January (40) goes first, then 20 of 10 January's 30; February's is untouched
        assert lots == {date(2026, 1, 5): 0, date(2026, 1, 10): 10, date(2026, 2, 10): 50}
        again = await _spend(1, 60, "redeem-1")
        assert again.id == spent.id and await balance_of(1) == 60  # a key spends once
        back, made = await give_back(
            entry_id=spent.id, key="cancel-1", occurred_on=date(2026, 3, 2), source=Source("voucher", 1),
            author="tester", now=AT,
        )
        assert made and back.kind == EntryKind.RETURN and back.amount == 60
        returned = await PointsLot.filter(entry_id=back.id).order_by("id")
        assert [(lot.amount, lot.expires_on) for lot in returned] == [(40, date(2027, 1, 5)), (20, date(2027, 1, 10))]
        assert await balance_of(1) == 120
        with pytest.raises(InsufficientPoints) as err:
            await _spend(1, 121, "too-much")
        assert err.value.details == {"needed": 121, "balance": 120, "shortfall": 1}
        assert await verify() == []
    async with tenant_transaction(b.id):
        assert await balance_of(1) == 0 and await PointsEntry.all().count() == 0


async def test_expiry_takes_each_due_lot_once_and_counts_per_person(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 30, "a1", date(2027, 1, 15))  # expires 2028-01-15
        await _earn(1, 20, "a2", date(2027, 1, 16))  # expires 2028-01-16
        await _earn(2, 10, "b1", date(2027, 1, 14))
        await _spend(1, 5, "s1")
        assert await expire_due(date(2028, 1, 14), now=AT) == 1  # only person 2's lot is due
        assert await expire_due(date(2028, 1, 15), now=AT) == 1
        assert await expire_due(date(2028, 1, 15), now=AT) == 0  # twice: once
        assert await balance_of(1) == 20 and await balance_of(2) == 0
        expired = await PointsEntry.filter(kind=EntryKind.EXPIRY).order_by("id").values_list("person_id", "amount")
        assert expired == [(2, -10), (1, -25)]
        runs = await PointsExpiryRun.all().order_by("id").values_list("through", "lots", "people")
        assert runs == [(date(2028, 1, 14), 1, 1), (date(2028, 1, 15), 1, 1)]
        assert await verify() == []


async def test_a_lot_made_behind_the_last_run_expires_at_once(three_tenants):
    """The nightly run never looks behind its last day: points returned (or backdated) after a run passed their day
    expire when they are made; before any run passed it, the next run takes them."""
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 40, "jan", date(2026, 1, 10))  # good until 2027-01-10
        await _earn(1, 30, "mar", date(2026, 3, 10))  # good until 2027-03-10
        spent = await _spend(1, 50, "r")  # 40 of January's lot, 10 of March's
        await _earn(2, 7, "early", date(2025, 12, 1))  # due 2026-12-01, no run yet: kept for the run
    with time_machine.travel(datetime(2027, 2, 1, 4, 0, tzinfo=UTC)):  # noon in Beijing
        async with tenant_transaction(a.id):
            assert await expire_due(date(2027, 2, 1)) == 1  # January's lot is empty; person 2's 7 go
            back, _ = await give_back(entry_id=spent.id, key="back", occurred_on=date(2027, 2, 1),
                                      source=Source("voucher", 1), author="tester")
    async with tenant_transaction(a.id):
        lots = await PointsLot.filter(entry_id=back.id).order_by("id")
        # January's 40 came back after its day had been passed by a run: expired at once; March's 10 are good
        assert [(lot.amount, lot.remaining, lot.expires_on) for lot in lots] == [
            (40, 0, date(2027, 1, 10)), (10, 10, date(2027, 3, 10))]
        assert await balance_of(1) == 30 and await balance_of(2) == 0
        assert await expire_due(date(2027, 3, 10), now=AT) == 2  # both March lots
        assert await balance_of(1) == 0
        assert await verify() == []


async def test_period_totals_count_awards_on_their_day(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 30, "m1", date(2026, 1, 31))
        await _earn(1, 20, "m2", date(2026, 2, 1))
        await _spend(1, 10, "spent")  # spending does not lower what was earned
        rows = dict(await PointsPeriodTotal.filter(person_id=1).values_list("period_key", "earned"))
        assert rows == {"2026-01": 30, "2026-02": 20, "2026Q1": 50, "2026": 50}


async def test_entries_are_append_only_and_a_balance_cannot_go_negative(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 10, "x", date(2026, 2, 1))
    for sql in ("UPDATE points_entry SET amount = 100", "DELETE FROM points_entry"):
        with pytest.raises(OperationalError, match="permission denied"):
            async with tenant_transaction(a.id) as conn:
                await conn.execute_query(sql)
    with pytest.raises(OperationalError, match="points_balance_non_negative"):
        async with tenant_transaction(a.id):
            await connections.get("default").execute_query(
                "UPDATE points_balance SET balance = -1 WHERE person_id = 1"
            )


async def test_ten_concurrent_spends_against_a_balance_for_three(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(7, 150, "fifty-times-three", date(2026, 2, 1))

    async def one(i: int) -> bool:
        try:
            async with tenant_transaction(a.id):
                await _spend(7, 50, f"r{i}")
            return True
        except InsufficientPoints:
            return False

    results = await asyncio.gather(*(one(i) for i in range(10)))
    assert results.count(True) == 3
    async with tenant_transaction(a.id):
        assert await balance_of(7) == 0 and await verify() == []


async def test_points_whose_day_has_come_are_never_spent_nor_reversed_twice(three_tenants):
    """At noon on 15 January 2027 in Beijing, before any nightly run: the lot earned 2026-01-15 is gone from the
    balance, cannot be spent, and an award whose lot expired is not taken back again from newer points."""
    from tenants.points.earning import reverse

    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        old = await _earn(1, 50, "old", date(2026, 1, 15))  # expires 2027-01-15
        await _earn(1, 30, "newer", date(2026, 6, 1))
    with time_machine.travel(datetime(2027, 1, 15, 4, 0, tzinfo=UTC)):
        async with tenant_transaction(a.id):
            assert await balance_of(1) == 30
            with pytest.raises(InsufficientPoints) as err:
                await spend(person_id=1, amount=40, key="big", occurred_on=date(2027, 1, 15),
                            source=Source("voucher", 2), author="tester")
            assert err.value.details == {"needed": 40, "balance": 30, "shortfall": 10}
            assert await reverse(old, reason="核实有误", author="cw") is None  # its 50 expired: nothing to take
            spent, _ = await spend(person_id=1, amount=30, key="all", occurred_on=date(2027, 1, 15),
                                   source=Source("voucher", 3), author="tester")
            assert spent.amount == -30 and await balance_of(1) == 0
            assert await PointsEntry.filter(kind=EntryKind.EXPIRY).values_list("amount", flat=True) == [-50]
            assert await expire_due(date(2027, 1, 15)) == 0  # the nightly run finds it done
            assert await verify() == []


async def test_the_check_finds_a_tampered_period_total_or_lot(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 30, "jan", date(2026, 1, 10))
        await _spend(1, 10, "r")
        assert await verify() == []
    with pytest.raises(OperationalError, match="permission denied"):  # what a spend took is a record
        async with tenant_transaction(a.id) as conn:
            await conn.execute_query("DELETE FROM points_lot_use")
    async with tenant_transaction(a.id) as conn:
        await conn.execute_query("UPDATE points_period_total SET earned = 99999 WHERE period_key = '2026-01'")
        await conn.execute_query("UPDATE points_lot SET remaining = 25, amount = 45")
        found = {(m.what, m.kept) for m in await verify()}
        assert ("period:2026-01", 99999) in found and any(w.startswith("lot:") for w, _ in found), found
        assert ("balance", 20) in found  # the lots now hold 25


async def test_a_reversal_follows_its_award_through_a_cancelled_voucher(three_tenants):
    """50 points awarded, spent on a voucher, the voucher cancelled (the 50 come back with their day), the day
    passes: reversing the award takes nothing, not the 30 newer points."""
    from tenants.points.earning import reverse

    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        award = await _earn(1, 50, "award", date(2026, 1, 15))  # expires 2027-01-15
        await _earn(1, 30, "newer", date(2026, 6, 1))
        spent = await _spend(1, 50, "voucher")
        await give_back(entry_id=spent.id, key="cancel", occurred_on=date(2026, 3, 2), source=Source("voucher", 1),
                        author="tester", now=AT)
    with time_machine.travel(datetime(2027, 1, 16, 4, 0, tzinfo=UTC)):
        async with tenant_transaction(a.id):
            assert await reverse(award, reason="核实有误", author="cw") is None
            assert await balance_of(1) == 30 and await verify() == []


async def test_a_lot_made_while_the_nightly_run_holds_its_lock_waits_for_it_and_expires_at_once(three_tenants):
    """At noon on 1 March 2026 (Beijing): the nightly run is writing person 2's expiry when their backdated lot of
    15 February 2025 (due 2026-02-15, behind the run's day) comes in: it waits, sees the run's day, and expires at
    once; no deadlock on person 2's balance, nothing left live behind the run."""
    a, _, _ = three_tenants
    with time_machine.travel(datetime(2026, 3, 1, 4, 0, tzinfo=UTC)):
        async with tenant_transaction(a.id):
            await _earn(2, 5, "due", date(2025, 2, 1))  # due 2026-02-01

        async def nightly() -> int:
            async with tenant_transaction(a.id):
                n = await expire_due(date(2026, 3, 1))
                await asyncio.sleep(0.4)  # still holding the lock and person 2's balance
                return n

        async def late() -> None:
            await asyncio.sleep(0.1)
            async with tenant_transaction(a.id):
                await _earn(2, 7, "late", date(2025, 2, 15))

        ran, _ = await asyncio.gather(nightly(), late())
        assert ran == 1
        async with tenant_transaction(a.id):
            assert await balance_of(2) == 0 and await verify() == []
            assert sorted(await PointsEntry.filter(kind=EntryKind.EXPIRY).values_list("amount", flat=True)) == [-7, -5]


async def test_an_event_awarding_two_people_waits_for_the_nightly_run_instead_of_deadlocking(three_tenants):
    """A steward's report awards the reporter, then the steward, in one transaction, while the nightly run expires
    both people's lots: every credit takes the expiry lock shared before writing, so one waits for the other."""
    a, _, _ = three_tenants
    with time_machine.travel(datetime(2026, 3, 1, 4, 0, tzinfo=UTC)):
        async with tenant_transaction(a.id):
            for person in (1, 2):
                await _earn(person, 9, f"old{person}", date(2025, 3, 1))  # due 2026-03-01: today

        async def event() -> str:
            async with tenant_transaction(a.id):
                await _earn(2, 3, "reporter", date(2026, 3, 1))
                await asyncio.sleep(0.3)
                await _earn(1, 3, "steward", date(2026, 3, 1))
            return "event"

        async def nightly() -> str:
            await asyncio.sleep(0.1)
            async with tenant_transaction(a.id):
                return f"run {await expire_due(date(2026, 3, 1))}"

        assert sorted(await asyncio.gather(event(), nightly())) == ["event", "run 2"]
        async with tenant_transaction(a.id):
            assert await balance_of(1) == 3 and await balance_of(2) == 3 and await verify() == []


async def test_a_reversal_takes_its_own_awards_returned_points_first(three_tenants):
    """Awards B (30, 1 January) and A (50, 15 January) spent on one voucher, the voucher cancelled: reversing A
    takes A's 50 back, not B's 30 (which then expire on their day)."""
    from tenants.points.earning import reverse

    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _earn(1, 30, "b", date(2026, 1, 1))
        award_a = await _earn(1, 50, "a", date(2026, 1, 15))
        spent = await _spend(1, 80, "voucher")
        await give_back(entry_id=spent.id, key="cancel", occurred_on=date(2026, 3, 2), source=Source("voucher", 1),
                        author="tester", now=AT)
        done = await reverse(award_a, reason="核实有误", author="cw")
        assert done is not None and done.amount == -50
        left = await PointsLot.filter(person_id=1, remaining__gt=0).values_list("amount", "remaining", "expires_on")
        assert left == [(30, 30, date(2027, 1, 1))]
        assert await verify() == []
