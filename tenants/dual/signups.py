"""Signing up for a 双报到 activity: join (a place, or the waiting line when full), leave (a place frees and the
first in line moves up), and staff assigning a member.

Lock order: the activity row (``activities.locked``, FOR UPDATE) first, then its sign-ups. Every change to an
activity's places (join, leave, assign, a capacity change, check-in, attendance, close) takes the activity row
first, so twenty members joining at once take turns: with capacity 5, exactly 5 are signed and 15 wait in
positions 1..15.

Decisions: a member may join activities of their registration's community and of the communities their work unit
is registered with. Staff may assign beyond the capacity (an assignment is a duty, it never waits); assigned
places count as taken, so later sign-ups wait. Leaving is possible until check-in opens (an hour before the
start), never once attendance is recorded; joining twice returns the same sign-up.
"""

from __future__ import annotations

from tenants import clock
from tenants.audit import service as audit
from tenants.dual.activities import (
    ACTIVITY,
    CHECKIN_MARGIN,
    TAKEN,
    ActivityStarted,
    fill_places,
    places_taken,
    renumber,
    visible,
)
from tenants.dual.activity_access import eligible_registration, manages, not_a_member, own_persons
from tenants.dual.config import dual_config
from tenants.dual.models import Activity, ActivityStatus, Signup, SignupStatus
from tenants.errors import IllegalTransition, InvalidInput, NotFound, Problem
from tenants.inbox.service import Message, send_all
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.people import Person


def _open(row: Activity, action: str) -> None:
    if row.status != ActivityStatus.OPEN:
        raise IllegalTransition(ACTIVITY, action, row.status.value)


async def _post(row: Activity, post: str | None) -> str:
    """The needed post taken (checked against the activity's posts and their counts), or ''. People waiting in line
    hold their post too: a promotion then never puts more people on a post than it needs."""
    if post is None or not post.strip():
        return ""
    role = post.strip()
    needed = next((p for p in row.posts_needed if p.get("role") == role), None)
    if needed is None:
        raise InvalidInput.of([Problem("post", "unknown", "该活动不需要这个岗位", "the activity needs no such post")])
    held = await Signup.filter(activity_id=row.id, post=role, status__in=(*TAKEN, SignupStatus.WAITING)).count()
    if held >= int(needed["count"]):
        raise InvalidInput.of([Problem("post", "full", "该岗位人数已满", "this post is filled")])
    return role


async def join(*, access: Access, actor: str, activity_id: int, post: str | None = None) -> Signup:
    """Sign the caller up: a place while there is one, else the waiting line (the next position)."""
    require(access, "dual.activity.join")
    now = clock.now()
    async with savepoint():
        await dual_config(field="id")
        person = await own_persons(access).first()
        if person is None:
            raise not_a_member("id")
        row = await visible(access, activity_id)
        _open(row, "join")
        if now >= row.starts_at:
            raise ActivityStarted("活动已开始，不能报名", "the activity has started: sign-up is closed", field="id")
        reg = await eligible_registration(person.id, row.community_id)
        if reg is None:
            raise not_a_member("id")
        mine = await Signup.get_or_none(activity_id=row.id, person_id=person.id)
        if mine is not None and mine.status != SignupStatus.CANCELLED:
            return mine  # joining twice: the same sign-up
        role = await _post(row, post)
        full = await places_taken(row.id) >= row.capacity
        position = None
        if full:
            position = await Signup.filter(activity_id=row.id, status=SignupStatus.WAITING).count() + 1
        values = dict(status=SignupStatus.WAITING if full else SignupStatus.SIGNED, position=position, post=role,
                      registration_id=reg.id, attendance=None, checked_in_at=None, checked_in_by=None, minutes=0,
                      starts_at=row.starts_at, outside_working_hours=row.outside_working_hours, updated_at=now)
        if mine is None:
            mine = await Signup.create(activity_id=row.id, person_id=person.id, community_id=row.community_id,
                                       created_at=now, **values)
        else:
            await Signup.filter(id=mine.id).update(**values)
            await mine.refresh_from_db()
        await audit.record(actor=actor, action="dual.activity.join", target_type="dual_signup", target_id=mine.id,
                           details={"activityId": row.id, "status": mine.status.value, "position": position})
        return mine


async def leave(*, access: Access, actor: str, activity_id: int) -> Signup:
    """Cancel the caller's sign-up before the activity starts: a freed place goes to the first in line (told
    once); leaving the waiting line closes it up."""
    require(access, "dual.activity.join")
    now = clock.now()
    async with savepoint():
        row = await visible(access, activity_id)
        _open(row, "leave")
        mine = await Signup.filter(activity_id=row.id, person_id__in=[p.id for p in await own_persons(access)] or [0]
                                   ).exclude(status=SignupStatus.CANCELLED).first()
        if mine is None:
            raise NotFound("您没有报名该活动", "you are not signed up for this activity", field="id")
        # Once check-in has opened (or attendance is recorded) a sign-up stays: leaving after checking in would keep
        # the points and hours while staff could no longer correct the attendance.
        if now >= row.starts_at - CHECKIN_MARGIN or mine.attendance is not None:
            raise ActivityStarted("签到已开始，不能取消报名", "check-in has opened: too late to leave", field="id")
        was = mine.status
        await Signup.filter(id=mine.id).update(status=SignupStatus.CANCELLED, position=None, updated_at=now)
        if was == SignupStatus.WAITING:
            await renumber(row.id)
        else:
            await fill_places(row, at=now)
        await mine.refresh_from_db()
        await audit.record(actor=actor, action="dual.activity.leave", target_type="dual_signup", target_id=mine.id,
                           details={"activityId": row.id, "was": was.value})
        return mine


async def assign(*, access: Access, actor: str, activity_id: int, person_id: int) -> Signup:
    """Staff put a member on the activity (ASSIGNED, even beyond the capacity); the member is told once."""
    now = clock.now()
    async with savepoint():
        row = await visible(access, activity_id)
        manages(access, row)
        _open(row, "assign")
        if now >= row.ends_at:
            raise ActivityStarted("活动已结束，不能安排人员", "the activity has ended: nobody can be assigned",
                                  field="id")
        person = await Person.get_or_none(id=person_id, deactivated_at=None)
        if person is None:
            raise NotFound("人员不存在", "no such person", field="personId")
        reg = await eligible_registration(person.id, row.community_id)
        if reg is None:
            raise not_a_member("personId")
        mine = await Signup.get_or_none(activity_id=row.id, person_id=person.id)
        if mine is not None and mine.status == SignupStatus.ASSIGNED:
            return mine
        was = mine.status if mine is not None else None
        values = dict(status=SignupStatus.ASSIGNED, position=None, registration_id=reg.id, starts_at=row.starts_at,
                      outside_working_hours=row.outside_working_hours, updated_at=now)
        if mine is None:
            mine = await Signup.create(activity_id=row.id, person_id=person.id, community_id=row.community_id,
                                       created_at=now, **values)
        else:
            if was == SignupStatus.CANCELLED:
                values.update(attendance=None, checked_in_at=None, checked_in_by=None, minutes=0, post="")
            await Signup.filter(id=mine.id).update(**values)
            await mine.refresh_from_db()
        if was == SignupStatus.WAITING:
            await renumber(row.id)
        if was != SignupStatus.SIGNED and person.user_id:  # a signed member already has their place
            local = row.starts_at.astimezone(await current_zone()).strftime("%Y-%m-%d %H:%M")
            await send_all([Message(
                to=[person.user_id], kind="dual_activity_assigned", title=f"活动安排：{row.title}",
                text=f"社区安排您参加活动“{row.title}”（{local}，{row.place}）。 You are assigned to {row.title} "
                     f"({local}, {row.place}).",
            )], at=now)
        await audit.record(actor=actor, action="dual.activity.assign", target_type="dual_signup", target_id=mine.id,
                           details={"activityId": row.id, "personId": person.id,
                                    "was": was.value if was else None})
        return mine

