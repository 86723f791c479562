"""Points after a reversal: an attendance withdrawn and recorded again earns again, once per live attendance (the
award key's generation suffix); retries of the same attendance do not earn twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tenants.dual import checkin, signups
from tenants.points.models import PointsEntry
from tenants.scope import tenant_transaction
from tests.fixtures.callers import ADMIN
from tests.fixtures.dual_activities import activity, member

pytestmark = pytest.mark.on_day(date(2026, 12, 1))
START = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


async def test_present_absent_present_earns_again_once(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START)
    async with tenant_transaction(tid):
        s = await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
    with time_machine.travel(START + timedelta(minutes=5)):
        for attendance in ("present", "present", "absent", "present", "present", "absent", "present"):
            async with tenant_transaction(tid):
                await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance=attendance)
    async with tenant_transaction(tid):
        rows = await PointsEntry.filter(person_id=w["person"]["m-1"]).order_by("id").values_list(
            "kind", "amount", "idempotency_key")
    assert [(str(getattr(k, "value", k)), n) for k, n, _ in rows] == [
        ("award", 3), ("reversal", -3), ("award", 3), ("reversal", -3), ("award", 3)]
    keys = [k for kind, _, k in rows if str(getattr(kind, "value", kind)) == "award"]
    assert keys[1] == keys[0] + ":1" and keys[2] == keys[0] + ":2"
    assert sum(n for _, n, _ in rows) == 3  # one live attendance: its points once


async def test_calling_off_reverses_whole_awards_set_based_and_a_spent_one_as_far_as_it_can(activity_world):
    from tenants.dual import activities
    from tenants.points import ledger
    from tenants.points.ledger import Source
    from tenants.points.models import EntryKind

    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START)
    async with tenant_transaction(tid):
        ids = [(await signups.join(access=member(u), actor=u, activity_id=a.id)).id for u in ("m-1", "m-2")]
    with time_machine.travel(START + timedelta(minutes=5)):
        async with tenant_transaction(tid):
            for signup_id in ids:
                await checkin.mark(access=ADMIN, actor="admin", signup_id=signup_id, attendance="present")
            await ledger.spend(person_id=w["person"]["m-2"], amount=2, key="test:spend", occurred_on=date(2026, 12, 5),
                               source=Source("test", 1), author="test")
        async with tenant_transaction(tid):
            await activities.cancel(access=ADMIN, actor="admin", activity_id=a.id, reason="暴雨")
            reversals = dict(await PointsEntry.filter(kind=EntryKind.REVERSAL).values_list("person_id", "amount"))
            assert reversals == {w["person"]["m-1"]: -3, w["person"]["m-2"]: -1}
            assert [await ledger.balance_of(w["person"][u]) for u in ("m-1", "m-2")] == [0, 0]


async def test_a_partly_spent_award_reversed_earns_back_only_what_was_taken_back(activity_world):
    """Present (3), 2 spent, absent (only 1 can be taken back), present again: the re-award credits 1, not 3, so
    the live attendance holds its 3 points once; again absent and present: 1 back, 1 again. The ledger checks."""
    from tenants.points import ledger
    from tenants.points.ledger import Source

    w = activity_world["sanbai"]
    tid, m1 = w["tenant"].id, w["person"]["m-1"]
    a = await activity(tid, w["ids"]["C1"], starts_at=START)
    async with tenant_transaction(tid):
        s = await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
    with time_machine.travel(START + timedelta(minutes=5)):
        async with tenant_transaction(tid):
            await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance="present")
            await ledger.spend(person_id=m1, amount=2, key="test:spend", occurred_on=date(2026, 12, 5),
                               source=Source("test", 1), author="test")
        for attendance in ("absent", "present", "absent", "present"):
            async with tenant_transaction(tid):
                await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance=attendance)
    async with tenant_transaction(tid):
        rows = await PointsEntry.filter(person_id=m1).order_by("id").values_list("kind", "amount")
        assert [(str(getattr(k, "value", k)), n) for k, n in rows] == [
            ("award", 3), ("redeem", -2), ("reversal", -1), ("award", 1), ("reversal", -1), ("award", 1)]
        assert sum(n for k, n in rows if str(getattr(k, "value", k)) in ("award", "reversal")) == 3
        assert await ledger.balance_of(m1) == 1
        assert await ledger.verify() == []
