"""Check-in at the venue and attendance: signed codes, a member's check-in, staff marking present or absent.

A code is ``{activity id}-{window}-{mac}``: ``mac`` is HMAC-SHA256(the activity's ``checkin_key``,
"{activity id}:{window}") in base32, cut to 10 characters; ``window`` = floor(epoch seconds / (checkin_code_minutes
* 60)). A code is accepted in its own window and the next one (a code read at the last second still works), from
60 minutes before the start to 60 minutes after the end. The key never leaves the database (not in audit details,
messages or GraphQL); only the code does.

Present (by code or by staff) emits ``activity_attended`` once per sign-up: a second check-in returns the same
sign-up and emits nothing; a check-in after staff recorded an absence is refused (CONFLICT, reason
``attendance_set``): only staff correct attendance. Staff correcting a present to absent emit
``activity_withdrawn`` (points reverse).
Decisions: people waiting in line may not check in (staff assign them if there is room on the day); staff may
correct attendance until the activity closes, and after it only with a reason: such a correction runs the absence
rule again for the member (a talk whose streak no longer holds is withdrawn, one it completes opens).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tenants import clock
from tenants.audit import service as audit
from tenants.dual import rules
from tenants.dual.activities import (
    ACTIVITY,
    CHECKIN_MARGIN,
    EVENT_KIND,
    TAKEN,
    length_minutes,
    locked,
    readable_one,
    visible,
)
from tenants.dual.activity_access import manages, own_persons, readable_signups
from tenants.dual.config import dual_config
from tenants.dual.models import Activity, ActivityStatus, Attendance, Signup
from tenants.dual.text import text_problems
from tenants.errors import Conflict, IllegalTransition, InvalidInput, NotFound, Problem
from tenants.events import emit
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.people import Person

MAC_LENGTH = 10
MARGIN = CHECKIN_MARGIN
CODE = re.compile(rf"([0-9]{{1,18}})-([0-9]{{1,12}})-([A-Z2-7]{{{MAC_LENGTH}}})")


class CheckinCodeInvalid(Conflict):
    """Not a code of any activity (mistyped, tampered with, or made up)."""

    code = "CHECKIN_CODE_INVALID"


class CheckinCodeExpired(Conflict):
    code = "CHECKIN_CODE_EXPIRED"


class CheckinWrongActivity(Conflict):
    """A genuine code, but of another activity than the one the member checks in for."""

    code = "CHECKIN_WRONG_ACTIVITY"


class CheckinNotOpen(Conflict):
    """Outside the check-in time (an hour before the start to an hour after the end), or the activity is over."""

    code = "CHECKIN_NOT_OPEN"


class NotSignedUp(Conflict):
    code = "NOT_SIGNED_UP"


def window_of(at: datetime, minutes: int) -> int:
    return int(at.timestamp()) // (minutes * 60)


def window_end(window: int, minutes: int) -> datetime:
    return datetime.fromtimestamp((window + 1) * minutes * 60, UTC)


def mac(key: str, activity_id: int, window: int) -> str:
    digest = hmac.new(key.encode(), f"{activity_id}:{window}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:MAC_LENGTH]


def code_for(activity: Activity, window: int) -> str:
    return f"{activity.id}-{window}-{mac(activity.checkin_key, activity.id, window)}"


@dataclass(frozen=True)
class CheckinCode:
    """The code to show at the venue, and when it stops being current (it is still accepted one window more)."""

    activity_id: int
    code: str
    expires_at: datetime


async def current_code(*, access: Access, activity_id: int) -> CheckinCode:
    """The activity's code of the current window (staff of its community or street)."""
    activity = await readable_one(access, activity_id)
    manages(access, activity)
    if activity.status != ActivityStatus.OPEN:
        raise IllegalTransition(ACTIVITY, "check_in", activity.status.value)
    minutes = (await dual_config(field="id")).checkin_code_minutes
    window = window_of(clock.now(), minutes)
    return CheckinCode(activity.id, code_for(activity, window), window_end(window, minutes))


async def _user_of(person_id: int) -> str | None:
    person = await Person.get_or_none(id=person_id)
    return person.user_id if person is not None else None


def _invalid() -> CheckinCodeInvalid:
    return CheckinCodeInvalid("签到码无效", "this is not a valid check-in code", field="code")


async def _present(signup: Signup, activity: Activity, *, by: str, at: datetime, minutes: int | None) -> None:
    """Mark ``signup`` present (from absent or nothing) and emit ``activity_attended`` for its person."""
    signup.attendance = Attendance.PRESENT
    signup.checked_in_at, signup.checked_in_by = at, by
    signup.minutes = length_minutes(activity) if minutes is None else minutes
    signup.updated_at = at
    await signup.save(update_fields=["attendance", "checked_in_at", "checked_in_by", "minutes", "updated_at"])
    user_id = await _user_of(signup.person_id)
    if user_id:
        await emit("activity_attended", activity_kind=EVENT_KIND, activity_id=activity.id, user_id=user_id, at=at)


async def check_in(*, access: Access, actor: str, code: str, activity_id: int | None = None) -> Signup:
    """The member checks in with the venue's code: their sign-up becomes present, minutes = the activity's
    length. A second check-in returns the same sign-up and changes nothing."""
    require(access, "dual.activity.join")
    now = clock.now()
    found = CODE.fullmatch(code.strip().upper()) if len(code) <= 64 else None
    if found is None:
        raise _invalid()
    code_activity, window = int(found.group(1)), int(found.group(2))
    async with savepoint():
        cfg = await dual_config(field="code")
        row = await Activity.get_or_none(id=code_activity)  # row-level security: this tenant's activities only
        if row is None or not hmac.compare_digest(mac(row.checkin_key, row.id, window), found.group(3)):
            raise _invalid()
        if activity_id is not None and activity_id != row.id:
            raise CheckinWrongActivity("该签到码属于另一项活动", "this check-in code is another activity's",
                                       field="code")
        current = window_of(now, cfg.checkin_code_minutes)
        if window < current - 1:
            raise CheckinCodeExpired("签到码已过期，请扫描现场最新签到码", "this check-in code has expired; use the "
                                     "one shown now", field="code")
        if window > current:
            raise _invalid()
        row = await locked(row.id)
        if row.status != ActivityStatus.OPEN or not row.starts_at - MARGIN <= now <= row.ends_at + MARGIN:
            raise CheckinNotOpen("不在签到时间内（活动开始前 1 小时至结束后 1 小时）",
                                 "check-in is open from an hour before the start to an hour after the end",
                                 field="code")
        signup = await Signup.filter(activity_id=row.id, person_id__in=[p.id for p in await own_persons(access)]
                                     or [0], status__in=TAKEN).first()
        if signup is None:
            raise NotSignedUp("您没有该活动的报名名额（候补人员不能签到）",
                              "you hold no place on this activity (people still waiting cannot check in)",
                              field="code")
        if signup.attendance == Attendance.PRESENT:
            return signup
        if signup.attendance is not None:  # staff recorded an absence: only staff change it
            raise Conflict("工作人员已登记您的考勤，如有疑问请联系社区",
                           "staff have recorded your attendance: ask them to correct it", field="code",
                           details={"reason": "attendance_set", "attendance": signup.attendance.value})
        await _present(signup, row, by=actor, at=now, minutes=None)
        await audit.record(actor=actor, action="dual.activity.check_in", target_type="dual_signup",
                           target_id=signup.id, details={"activityId": row.id, "minutes": signup.minutes})
        return signup


async def mark(
    *, access: Access, actor: str, signup_id: int, attendance: str, minutes: int | None = None,
    reason: str | None = None,
) -> Signup:
    """Staff record (or correct) a sign-up's attendance: present (minutes 0..1440, the activity's length by
    default) or absent. After the activity closed only with a reason."""
    problems: list[Problem] = []
    if attendance not in (Attendance.PRESENT.value, Attendance.ABSENT.value):
        problems.append(Problem("attendance", "unknown", "考勤须为出席或缺席", "attendance is present or absent"))
    if minutes is not None and attendance == Attendance.ABSENT.value:
        problems.append(Problem("minutes", "absent", "缺席不计时长", "an absence has no minutes"))
    elif minutes is not None and not 0 <= minutes <= 1440:
        problems.append(Problem("minutes", "out_of_range", "时长须在 0 到 1440 分钟之间", "minutes must be 0 to 1440"))
    if reason is not None:
        problems += text_problems("reason", reason, "更正原因", required=False, limit=500)
    if problems:
        raise InvalidInput.of(problems)
    now = clock.now()
    async with savepoint():
        signup = await readable_signups(access).filter(id=signup_id).first()
        if signup is None:
            raise NotFound("报名记录不存在", "no such sign-up", field="signupId")
        row = await visible(access, signup.activity_id, field="signupId")
        manages(access, row)
        if row.status == ActivityStatus.CANCELLED:
            raise IllegalTransition(ACTIVITY, "mark", row.status.value)
        if row.status == ActivityStatus.CLOSED and not (reason or "").strip():
            raise InvalidInput.of([Problem("reason", "required", "活动已结束，更正考勤须填写原因",
                                           "the activity is closed: a correction needs a reason")])
        if now < row.starts_at - MARGIN:
            raise CheckinNotOpen("活动尚未开始，不能登记考勤", "the activity has not started yet", field="signupId")
        signup = await Signup.get(id=signup_id)  # after the activity's lock: the latest
        if signup.status not in TAKEN:
            raise NotSignedUp("该报名没有名额（候补或已取消），不能登记考勤",
                              "this sign-up holds no place (waiting or cancelled)", field="signupId")
        was = signup.attendance
        if attendance == Attendance.PRESENT.value:
            if was == Attendance.PRESENT:
                if minutes is not None and minutes != signup.minutes:
                    signup.minutes, signup.updated_at = minutes, now
                    await signup.save(update_fields=["minutes", "updated_at"])
            else:
                await _present(signup, row, by=actor, at=now, minutes=minutes)
        else:
            signup.attendance, signup.minutes, signup.updated_at = Attendance.ABSENT, 0, now
            await signup.save(update_fields=["attendance", "minutes", "updated_at"])
            user_id = await _user_of(signup.person_id)
            if was == Attendance.PRESENT and user_id:
                await emit("activity_withdrawn", activity_kind=EVENT_KIND, activity_id=row.id, user_id=user_id,
                           at=now)
        details: dict[str, object] = {"activityId": row.id, "was": was.value if was else None, "now": attendance,
                                      "minutes": signup.minutes, "reason": (reason or "").strip()}
        if row.status == ActivityStatus.CLOSED and was != signup.attendance:
            # A correction after the close: the member's streaks are ruled on again (talks may open or withdraw).
            ruled = await rules.apply_member_rules([(signup.person_id, signup.id)], now=now, actor=actor)
            details["rules"] = {"talks": ruled.talks, "notices": ruled.notices, "withdrawn": ruled.withdrawn}
        await audit.record(actor=actor, action="dual.activity.mark", target_type="dual_signup", target_id=signup.id,
                           details=details)
        return signup
