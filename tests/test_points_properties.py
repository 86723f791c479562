"""Properties of the points ledger under any sequence of awards (with caps), reversals, redemptions, give-backs
and expiries at arbitrary days: the kept balance equals the sum of the live lots and of the entries, is never
negative, every point of every lot is accounted for exactly once, and no rule's day or month exceeds its cap."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections

from tenants.points import ledger
from tenants.points.earning import award, reverse
from tenants.points.ledger import InsufficientPoints, Source
from tenants.points.models import EntryKind, PointsEntry, PointsLot, PointsLotUse
from tenants.scope import tenant_transaction
from tenants.territory.people import Person

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))

BASE = date(2026, 2, 1)
CAPS = {"volunteer_service": (10, 60), "activity": (6, 30)}  # the world's rules: 5 and 3 points

STEP = st.one_of(
    st.tuples(st.just("award"), st.integers(0, 70), st.sampled_from(sorted(CAPS))),
    st.tuples(st.just("spend"), st.integers(1, 40), st.just("")),
    st.tuples(st.just("give_back"), st.integers(0, 5), st.just("")),
    st.tuples(st.just("reverse"), st.integers(0, 10), st.just("")),
    st.tuples(st.just("expire"), st.integers(0, 800), st.just("")),
)


class _RollBack(Exception):
    """Ends an example: what it wrote is rolled back, so every example starts from the same world."""


async def _check(person_id: int) -> None:
    kept = await ledger.balance_of(person_id)
    entries = await PointsEntry.filter(person_id=person_id).values_list("kind", "amount", "rule_code", "occurred_on")
    lots = await PointsLot.filter(person_id=person_id)
    uses: dict[int, int] = defaultdict(int)
    for lot_id, amount in await PointsLotUse.filter(lot_id__in=[lot.id for lot in lots]).values_list(
        "lot_id", "amount"
    ):
        uses[lot_id] += amount  # type: ignore[index]
    through = await ledger.expired_through()  # a lot whose day a nightly run passed is expired (what it kept)

    def passed(lot: PointsLot) -> bool:
        return through is not None and lot.expires_on is not None and lot.expires_on <= through

    assert kept >= 0
    assert kept == sum(a for _, a, _, _ in entries) == sum(lot.remaining for lot in lots if not passed(lot))
    expired_points = 0
    for lot in lots:
        if lot.expired_entry_id is None:
            assert lot.amount - lot.remaining == uses[lot.id]  # what left it, each point once
            expired_points += lot.remaining if passed(lot) else 0
        else:
            assert lot.remaining == 0 and uses[lot.id] <= lot.amount
            expired_points += lot.amount - uses[lot.id]
    assert -sum(a for k, a, _, _ in entries if k == EntryKind.EXPIRY) == expired_points
    earned: dict[tuple, int] = defaultdict(int)
    for kind, amount, rule, day in entries:
        if kind in (EntryKind.AWARD, EntryKind.REVERSAL):
            earned[(rule, day)] += amount
            earned[(rule, day.replace(day=1), "month")] += amount
    for key, total in earned.items():
        assert total <= CAPS[key[0]][0 if len(key) == 2 else 1]
    assert await ledger.verify() == []


@pytest.fixture
async def world(points_world):
    return points_world["sanbai"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=14))
async def test_any_sequence_keeps_balances_lots_and_entries_in_step(world, steps):
    with pytest.raises(_RollBack):
        async with tenant_transaction(world["tenant"].id):
            await connections.get("default").execute_query("SET LOCAL lock_timeout = '5s'")
            person = await Person.get(user_id="pm-1")  # a party member: earns both rules
            person_id = person.id
            awards: list[PointsEntry] = []
            spends: list[PointsEntry] = []
            returned: set[int] = set()
            for i, (op, n, rule) in enumerate(steps):
                if op == "award":
                    got = await award(rule_code=rule, person=person, source=Source("manual", None, f"s{i}"),
                                      occurred_on=BASE + timedelta(days=n), author="prop")
                    assert got is not None
                    if not got.capped:
                        awards.append(got.entry)
                elif op == "spend":
                    held = await ledger.balance_of(person_id)
                    try:
                        entry, _ = await ledger.spend(person_id=person_id, amount=n, key=f"spend{i}",
                                                      occurred_on=BASE, source=Source("voucher", i), author="prop")
                        assert n <= held
                        spends.append(entry)
                    except InsufficientPoints as exc:
                        assert n > held and exc.details["shortfall"] == n - held
                elif op == "give_back":
                    open_spends = [s for s in spends if s.id not in returned]
                    if open_spends:
                        spent = open_spends[n % len(open_spends)]
                        await ledger.give_back(entry_id=spent.id, key=f"back{spent.id}", occurred_on=BASE,
                                               source=Source("voucher", spent.id), author="prop")
                        returned.add(spent.id)
                elif op == "reverse" and awards:
                    before = await ledger.balance_of(person_id)
                    target = awards[n % len(awards)]
                    done = await reverse(target, reason="prop", author="prop")
                    if done is None:  # nothing held, or what the award left expired already (not taken twice)
                        lot = await PointsLot.get(entry_id=target.id)
                        through = await ledger.expired_through()
                        assert before == 0 or lot.expired_entry_id is not None or (
                            through is not None and lot.expires_on is not None and lot.expires_on <= through)
                    else:
                        assert -done.amount <= target.amount
                elif op == "expire":
                    await ledger.expire_due(BASE + timedelta(days=n))
                await _check(person_id)
            raise _RollBack()
