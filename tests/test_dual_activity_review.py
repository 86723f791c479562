"""双报到 activities after review: leaving once check-in opened, a member's re-scan after staff's absence, hours
from places held only, calling off withdraws every present attendance in a constant number of statements, posts
held in the waiting line, bidi characters, and memberHours' permission."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tenants.dual import activities, activity_reads, checkin, signups, units
from tenants.dual.models import Attendance, Signup, SignupStatus
from tenants.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from tenants.points.models import PointsEntry
from tenants.scope import tenant_transaction
from tests.conftest import codes
from tests.fixtures.callers import ADMIN
from tests.fixtures.dual_activities import activity, community_worker, member
from tests.fixtures.statements import orm_statements

pytestmark = pytest.mark.on_day(date(2026, 12, 1))
START = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # Saturday 10:00 in Beijing


async def points(tid: int, person_id: int) -> int:
    async with tenant_transaction(tid):
        return sum(await PointsEntry.filter(person_id=person_id).values_list("amount", flat=True))


async def code_at(tid: int, activity_id: int) -> str:
    async with tenant_transaction(tid):
        return (await checkin.current_code(access=ADMIN, activity_id=activity_id)).code


async def test_leave_is_refused_once_check_in_opened_or_attendance_set(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START, capacity=1)
    async with tenant_transaction(tid):
        for u in ("m-1", "m-2", "m-3"):
            await signups.join(access=member(u), actor=u, activity_id=a.id)
    with time_machine.travel(START - timedelta(minutes=61)):  # before check-in opens: leaving is fine
        async with tenant_transaction(tid):
            left = await signups.leave(access=member("m-3"), actor="m-3", activity_id=a.id)
        assert left.status == SignupStatus.CANCELLED
    with time_machine.travel(START - timedelta(minutes=50)):  # check-in is open: checked in or not, no leaving
        code = await code_at(tid, a.id)
        async with tenant_transaction(tid):
            await checkin.check_in(access=member("m-1"), actor="m-1", code=code)
        for u in ("m-1", "m-2"):
            with pytest.raises(Conflict) as e:
                async with tenant_transaction(tid):
                    await signups.leave(access=member(u), actor=u, activity_id=a.id)
            assert e.value.code == "ACTIVITY_STARTED"
    # staff can still correct the early check-in, and the points follow
    assert await points(tid, w["person"]["m-1"]) == 3
    with time_machine.travel(START + timedelta(hours=30)):
        async with tenant_transaction(tid):
            await activities.close(access=ADMIN, actor="admin", activity_id=a.id)
            s = await Signup.get(activity_id=a.id, person_id=w["person"]["m-1"])
            await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance="absent", reason="left early")
            assert (await activity_reads.member_hours(access=member("m-1"), year=2026)).count == 0
    assert await points(tid, w["person"]["m-1"]) == 0


async def test_member_hours_count_places_held_only(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START)
    async with tenant_transaction(tid):
        s = await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
    with time_machine.travel(START + timedelta(minutes=5)):
        async with tenant_transaction(tid):
            await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance="present")
            assert (await activity_reads.member_hours(access=member("m-1"), year=2026)).minutes == 120
            await Signup.filter(id=s.id).update(status=SignupStatus.CANCELLED)  # a present row without its place
            assert (await activity_reads.member_hours(access=member("m-1"), year=2026)).count == 0


async def test_rescan_after_staff_absence_is_refused(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START)
    async with tenant_transaction(tid):
        s = await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
    with time_machine.travel(START + timedelta(minutes=10)):
        code = await code_at(tid, a.id)
        async with tenant_transaction(tid):
            await checkin.check_in(access=member("m-1"), actor="m-1", code=code)
            again = await checkin.check_in(access=member("m-1"), actor="m-1", code=code)  # idempotent
            assert again.attendance == Attendance.PRESENT
            await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance="absent")
        with pytest.raises(Conflict) as e:
            async with tenant_transaction(tid):
                await checkin.check_in(access=member("m-1"), actor="m-1", code=code)
        assert (e.value.code, e.value.details["reason"]) == ("CONFLICT", "attendance_set")
        async with tenant_transaction(tid):
            assert (await Signup.get(id=s.id)).attendance == Attendance.ABSENT
    assert await points(tid, w["person"]["m-1"]) == 0


async def _cancel_statements(w: dict, day: int, n: int) -> int:
    tid = w["tenant"].id
    start = START + timedelta(days=day)
    a = await activity(tid, w["ids"]["C1"], starts_at=start, capacity=20)
    async with tenant_transaction(tid):
        ids = [(await signups.join(access=member(f"m-{i}"), actor=f"m-{i}", activity_id=a.id)).id
               for i in range(1, n + 1)]
    with time_machine.travel(start + timedelta(minutes=5)):
        async with tenant_transaction(tid):
            for signup_id in ids:
                await checkin.mark(access=ADMIN, actor="admin", signup_id=signup_id, attendance="present")
            # a present attendance whose sign-up no longer holds a place is withdrawn too
            await Signup.filter(id=ids[0]).update(status=SignupStatus.CANCELLED)
        async with tenant_transaction(tid):
            with orm_statements() as sent:
                await activities.cancel(access=ADMIN, actor="admin", activity_id=a.id, reason="暴雨")
    return len(sent)


async def test_cancel_withdraws_every_present_in_constant_statements(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    few, many = await _cancel_statements(w, 0, 2), await _cancel_statements(w, 1, 8)
    print("cancel statements", few, many)
    assert few == many, (few, many)
    for i in range(1, 9):  # every award reversed, the cancelled sign-up's too
        assert await points(tid, w["person"][f"m-{i}"]) == 0


async def test_waiting_people_hold_their_post(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START, capacity=1,
                       posts_needed=[activities.Post(role="引导", count=1)])
    async with tenant_transaction(tid):
        await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
        waiting = await signups.join(access=member("m-2"), actor="m-2", activity_id=a.id, post="引导")
        assert (waiting.status, waiting.post) == (SignupStatus.WAITING, "引导")
        with pytest.raises(InvalidInput) as e:
            await signups.join(access=member("m-3"), actor="m-3", activity_id=a.id, post="引导")
        assert [(p.field, p.reason) for p in e.value.problems] == [("post", "full")]
        await activities.update(access=ADMIN, actor="admin", activity_id=a.id, capacity=3)
        held = await Signup.filter(activity_id=a.id, post="引导", status__in=activities.TAKEN).count()
    assert held == 1


@pytest.mark.parametrize("bidi", ["\u202e", "\u202a", "\u2066", "\u2069"])
async def test_bidi_characters_are_refused(activity_world, bidi):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    async with tenant_transaction(tid):
        with pytest.raises(InvalidInput) as e:
            await activities.create(
                access=ADMIN, actor="admin", community_id=w["ids"]["C1"], title=f"{bidi}清洁", kind="cleanup",
                place=f"1号楼{bidi}", starts_at=START, ends_at=START + timedelta(hours=1), capacity=3,
                posts_needed=[activities.Post(role=f"引导{bidi}", count=1)])
        assert sorted((p.field, p.reason) for p in e.value.problems) == [
            ("input.place", "bidi"), ("input.postsNeeded.0.role", "bidi"), ("input.title", "bidi")]
        with pytest.raises(InvalidInput) as e:
            await units.register_work_unit(access=ADMIN, actor="admin", work_unit_id=w["ids"]["WU1"],
                                           community_id=w["ids"]["C2"], resources=[f"{bidi}abc"],
                                           agreement_from=date(2026, 12, 1))
        assert [(p.field, p.reason) for p in e.value.problems] == [("resources.0", "bidi")]


async def test_member_hours_needs_dual_read_and_a_readable_person(activity_world, gql):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    hours = "query($p: ID) { memberHours(year: 2026, personId: $p) { count } }"
    m1 = str(w["person"]["m-1"])
    assert codes(await gql(hours, w["resident"], {"p": m1})) == ["FORBIDDEN"]
    assert codes(await gql(hours, w["community_worker_c2"], {"p": m1})) == ["NOT_FOUND"]  # C2 staff, m-1 is C1's
    assert codes(await gql(hours, w["members"]["m-2"], {"p": m1})) == ["NOT_FOUND"]
    assert codes(await gql(hours, activity_world["linshu"]["admin"], {"p": m1})) == ["NOT_FOUND"]
    assert (await gql(hours, w["community_worker"], {"p": m1}))["data"]["memberHours"]["count"] == 0
    async with tenant_transaction(tid):
        with pytest.raises(NotFound):
            await activity_reads.member_hours(access=community_worker(w["ids"]["C2"], "cw-2"), year=2026,
                                              person_id=w["person"]["m-1"])


def test_an_activity_that_cannot_change_state_reads_with_an():
    err = IllegalTransition(activities.ACTIVITY, "close", "closed")
    assert err.message_en == "cannot close an activity that is closed"
    assert err.message_zh == "活动当前状态为“已结束”，不能结束"
