"""双报到 check-in: the venue's signed code (valid, the window before, expired, another activity's, tampered, outside
the check-in time), who may check in, staff attendance and corrections, and points earned once and reversed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tenants.audit.models import AuditEntry
from tenants.dual import activities, checkin, signups
from tenants.dual.models import Attendance, Signup
from tenants.errors import Conflict, InvalidInput
from tenants.points.models import PointsEntry
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tests.conftest import codes
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.dual_activities import activity, member

pytestmark = pytest.mark.on_day(date(2026, 12, 1))
START = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # Saturday 10:00 in Beijing, two hours


async def points_of(tenant_id: int, person_id: int) -> list[tuple[str, int]]:
    async with tenant_transaction(tenant_id):
        rows = await PointsEntry.filter(person_id=person_id).order_by("id").values_list("kind", "amount")
    return [(str(getattr(k, "value", k)), a) for k, a in rows]


async def check_in(tenant_id: int, user: str, code: str, activity_id: int | None = None) -> Signup:
    async with tenant_transaction(tenant_id):
        return await checkin.check_in(access=member(user), actor=user, code=code, activity_id=activity_id)


async def code_now(tenant_id: int, activity_id: int) -> checkin.CheckinCode:
    async with tenant_transaction(tenant_id):
        return await checkin.current_code(access=ADMIN, activity_id=activity_id)


async def refused(coro) -> str:
    with pytest.raises(Conflict) as e:
        await coro
    return e.value.code


@pytest.fixture
async def venue(activity_world):
    """An activity on START with m-1 and m-2 signed and m-3 waiting (capacity 2), and another activity."""
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], starts_at=START, capacity=2)
    b = await activity(tid, w["ids"]["C1"], starts_at=START, capacity=2)
    async with tenant_transaction(tid):
        for u in ("m-1", "m-2", "m-3"):
            await signups.join(access=member(u), actor=u, activity_id=a.id)
        await signups.join(access=member("m-4"), actor="m-4", activity_id=b.id)
    return w, tid, a, b


async def test_check_in_earns_once_and_a_correction_reverses(venue):
    w, tid, a, _ = venue
    m1 = w["person"]["m-1"]
    with time_machine.travel(START + timedelta(minutes=5)):
        code = await code_now(tid, a.id)
        first = await check_in(tid, "m-1", code.code)
        assert (first.attendance, first.minutes, first.checked_in_by) == (Attendance.PRESENT, 120, "m-1")
        second = await check_in(tid, "m-1", code.code.lower(), activity_id=a.id)  # the same sign-up, nothing new
        assert (second.id, second.checked_in_at) == (first.id, first.checked_in_at)
        assert await points_of(tid, m1) == [("award", 3)]
        async with tenant_transaction(tid):  # staff correct it: the award is reversed
            await checkin.mark(access=ADMIN, actor="admin", signup_id=first.id, attendance="absent")
            await checkin.mark(access=ADMIN, actor="admin", signup_id=first.id, attendance="absent")
        assert await points_of(tid, m1) == [("award", 3), ("reversal", -3)]
        async with tenant_transaction(tid):  # and marked present again by staff with their own minutes
            again = await checkin.mark(access=ADMIN, actor="admin", signup_id=first.id, attendance="present",
                                       minutes=90)
        assert (again.attendance, again.minutes, again.checked_in_by) == (Attendance.PRESENT, 90, "admin")
        async with tenant_transaction(tid):  # the key never reaches the audit log
            details = " ".join(str(d) for d in await AuditEntry.all().values_list("details", flat=True))
            key = (await activities.locked(a.id)).checkin_key
        assert key not in details and code.code not in details


async def test_codes_expire_and_belong_to_one_activity(venue):
    _, tid, a, b = venue
    minutes = 30  # the preset's checkin_code_minutes
    at = START + timedelta(minutes=10)
    with time_machine.travel(at):
        code = await code_now(tid, a.id)
        other = await code_now(tid, b.id)
        assert code.expires_at == checkin.window_end(checkin.window_of(at, minutes), minutes)
        aid, window, mac = code.code.split("-")
        tampered = [f"{b.id}-{window}-{mac}", f"{aid}-{int(window) + 1}-{mac}", f"{aid}-{window}-{mac[::-1]}",
                    "", "x" * 65, f"{2**64}-{window}-{mac}", f"{aid}-{window}-{mac}\n-1", "９-1-AAAAAAAAAA"]
        for bad in tampered:
            assert await refused(check_in(tid, "m-1", bad)) == "CHECKIN_CODE_INVALID", bad
        assert await refused(check_in(tid, "m-1", other.code, activity_id=a.id)) == "CHECKIN_WRONG_ACTIVITY"
        assert await refused(check_in(tid, "m-1", other.code)) == "NOT_SIGNED_UP"  # b's code: no place there
        assert await refused(check_in(tid, "m-3", code.code)) == "NOT_SIGNED_UP"  # waiting: no place
    with time_machine.travel(code.expires_at + timedelta(minutes=minutes - 1)):  # the next window: still good
        assert (await check_in(tid, "m-1", code.code)).attendance == Attendance.PRESENT
    with time_machine.travel(code.expires_at + timedelta(minutes=minutes)):  # two windows on: expired
        assert await refused(check_in(tid, "m-2", code.code)) == "CHECKIN_CODE_EXPIRED"
        assert (await check_in(tid, "m-2", (await code_now(tid, a.id)).code)).minutes == 120


async def test_check_in_only_around_the_activity(venue):
    _, tid, a, _ = venue
    for at in (START - timedelta(minutes=61), START + timedelta(hours=2, minutes=61)):
        with time_machine.travel(at):
            assert await refused(check_in(tid, "m-1", (await code_now(tid, a.id)).code)) == "CHECKIN_NOT_OPEN"
    with time_machine.travel(START - timedelta(minutes=59)):
        assert (await check_in(tid, "m-1", (await code_now(tid, a.id)).code)).attendance == Attendance.PRESENT


async def test_closed_activity_attendance_needs_a_reason(venue):
    w, tid, a, _ = venue
    with time_machine.travel(START + timedelta(hours=3)):
        code = (await code_now(tid, a.id)).code
        async with tenant_transaction(tid):
            await activities.close(access=ADMIN, actor="admin", activity_id=a.id)
            rows = await Signup.filter(activity_id=a.id).order_by("id").values_list("id", "attendance")
        assert [r[1] for r in rows] == [Attendance.ABSENT, Attendance.ABSENT, None]  # m-3 waited: nothing
        assert await refused(check_in(tid, "m-1", code)) == "CHECKIN_NOT_OPEN"  # closed: too late for codes
        assert await refused(code_now(tid, a.id)) == "ILLEGAL_TRANSITION"
        with pytest.raises(InvalidInput) as no_reason:
            async with tenant_transaction(tid):
                await checkin.mark(access=ADMIN, actor="admin", signup_id=rows[0][0], attendance="present")
        assert no_reason.value.problems[0].field == "reason"
        async with tenant_transaction(tid):
            fixed = await checkin.mark(access=ADMIN, actor="admin", signup_id=rows[0][0], attendance="present",
                                       reason="纸质签到表补录")
        assert (fixed.attendance, fixed.minutes) == (Attendance.PRESENT, 120)
        assert await points_of(tid, w["person"]["m-1"]) == [("award", 3)]
        for bad in ({"minutes": 1441}, {"minutes": -1}, {"attendance": "late"}, {"minutes": 5, "attendance": "absent"}):
            with pytest.raises(InvalidInput):
                async with tenant_transaction(tid):
                    await checkin.mark(access=ADMIN, actor="admin", signup_id=rows[0][0], reason="x",
                                       **{"attendance": "present", **bad})


CODE = "query($id: ID!) { activityCheckinCode(id: $id) { code expiresAt } }"
CHECK_IN = "mutation($code: String!) { checkIn(code: $code) { status attendance minutes } }"
MARK = """mutation($id: ID!, $a: Attendance!) { markAttendance(signupId: $id, attendance: $a) { attendance } }"""


async def test_through_graphql(venue, gql, settings, activity_world):
    w, tid, a, _ = venue
    with time_machine.travel(START):
        staff = bearer(settings, w["tenant"], Role.COMMUNITY_WORKER, f"community:{w['ids']['C1']}", user_id="cw-1")
        m1 = bearer(settings, w["tenant"], Role.PARTY_MEMBER, user_id="m-1")
        other = bearer(settings, activity_world["linshu"]["tenant"], Role.TENANT_ADMIN, user_id="admin")
        body = await gql(CODE, staff, {"id": str(a.id)})
        code = body["data"]["activityCheckinCode"]["code"]
        assert codes(await gql(CODE, m1, {"id": str(a.id)})) == ["FORBIDDEN"]
        assert codes(await gql(CODE, other, {"id": str(a.id)})) == ["NOT_FOUND"]
        done = await gql(CHECK_IN, m1, {"code": code})
        assert done["data"]["checkIn"] == {"status": "SIGNED", "attendance": "PRESENT", "minutes": 120}
        assert codes(await gql(CHECK_IN, m1, {"code": "1-1-" + "\u0000" * 10})) in (["INVALID_INPUT"],
                                                                                   ["CHECKIN_CODE_INVALID"])
        assert codes(await gql(CHECK_IN, staff, {"code": code})) == ["FORBIDDEN"]
        async with tenant_transaction(tid):
            sid = (await Signup.get(activity_id=a.id, person_id=w["person"]["m-2"])).id
        assert (await gql(MARK, staff, {"id": str(sid), "a": "PRESENT"}))["data"]["markAttendance"] == {
            "attendance": "PRESENT"}
        assert codes(await gql(MARK, m1, {"id": str(sid), "a": "ABSENT"})) == ["NOT_FOUND"]  # not theirs to read
