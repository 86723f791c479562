"""双报到 activities 活动: create, change, cancel, close, and the reads (the activity list, a member's own sign-ups,
an activity's attendance, a member's hours in a year).

An activity's state is a transition table (``STEPS``): open -> closed (``close``: every signed or assigned sign-up
without attendance becomes absent; waiting ones get nothing), open -> cancelled (everyone signed, assigned or
waiting is told once; present attendances are withdrawn: nothing on a cancelled activity counts). Changes to an
activity and its sign-ups take the activity row first (``locked``), then the sign-ups: one lock order everywhere
(signups.py, checkin.py).

Outside working hours 8小时以外: the activity starts or ends outside the tenant's ``working_hours`` or on a day not
in its weekdays (tenant time), unless the creator sets it. A member's year is the tenant-local year of the
activity's start: a sign-up copies ``starts_at`` so the year is one indexed range read.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

from tenants import clock
from tenants.audit import service as audit
from tenants.config.document import WorkingHours
from tenants.dual import rules
from tenants.dual.activity_access import manages, readable_activities
from tenants.dual.config import dual_config
from tenants.dual.models import Activity, ActivityStatus, Attendance, Signup, SignupStatus
from tenants.dual.text import text_problems
from tenants.errors import Conflict, InvalidInput, NotFound, Noun, Problem
from tenants.events import emit
from tenants.idempotency import idempotent
from tenants.inbox.service import Message, send_all
from tenants.paging import Order
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.models import Community
from tenants.territory.people import Person
from tenants.workflow import Transition, transition

EVENT_KIND = "dual_activity"  # the points source kind of an activity's attendance
MAX_CAPACITY = 10_000
MAX_LENGTH = timedelta(hours=24)
MAX_AHEAD = timedelta(days=3 * 366)
MAX_POSTS = 20
CHECKIN_MARGIN = timedelta(minutes=60)  # check-in opens this long before the start, closes this long after the end
KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
TAKEN = (SignupStatus.SIGNED, SignupStatus.ASSIGNED)  # the statuses that hold a place
BY_START = Order(("starts_at", "id"), (datetime, int))

ACTIVITY = Noun(
    "活动", "activity",
    {"open": "报名中", "closed": "已结束", "cancelled": "已取消"},
    {"update": "修改", "cancel": "取消", "close": "结束", "join": "报名", "leave": "取消报名", "assign": "安排",
     "check_in": "签到", "mark": "登记考勤"},
    field="id", state_key="status", article="an",
)


class ActivityStarted(Conflict):
    """Too late: the activity has started (sign-up, leaving) or has ended (assigning)."""

    code = "ACTIVITY_STARTED"


class ActivityNotEnded(Conflict):
    code = "ACTIVITY_NOT_ENDED"


@dataclass(frozen=True)
class Post:
    """A post an activity needs 岗位: a role and how many people."""

    role: str
    count: int


def length_minutes(a: Activity | Any) -> int:
    return min(int((a.ends_at - a.starts_at).total_seconds() // 60), 1440)


def _inside(t: time, wh: WorkingHours, *, end: bool) -> bool:
    start, stop = time.fromisoformat(wh.start), time.fromisoformat(wh.end)
    return start < t <= stop if end else start <= t < stop


def outside_working_hours(starts_at: datetime, ends_at: datetime, wh: WorkingHours, zone: ZoneInfo) -> bool:
    """8小时以外: starts or ends outside working hours, or on a day not in ``weekdays``, or spans midnight."""
    s, e = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if s.date() != e.date() or s.isoweekday() not in wh.weekdays:
        return True
    return not (_inside(s.time(), wh, end=False) and _inside(e.time(), wh, end=True))


def _time_problems(starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> list[Problem]:
    problems = []
    for name, value in (("startsAt", starts_at), ("endsAt", ends_at)):
        if value is None:
            problems.append(Problem(f"input.{name}", "required", f"请填写{name}", f"input.{name} is required"))
        elif value.tzinfo is None or value.utcoffset() is None:
            problems.append(Problem(f"input.{name}", "naive", "时间须带时区（如 +08:00）",
                                    f"input.{name} needs a time zone offset (e.g. +08:00)"))
    if problems:
        return problems
    assert starts_at is not None and ends_at is not None
    if starts_at < now:
        problems.append(Problem("input.startsAt", "past", "活动开始时间不能早于现在", "input.startsAt is in the past"))
    elif starts_at > now + MAX_AHEAD:
        problems.append(Problem("input.startsAt", "too_far", "活动开始时间不能超过三年以后",
                                "input.startsAt is more than three years ahead"))
    if ends_at <= starts_at:
        problems.append(Problem("input.endsAt", "before_start", "结束时间须晚于开始时间",
                                "input.endsAt must be after input.startsAt"))
    elif ends_at - starts_at > MAX_LENGTH:
        problems.append(Problem("input.endsAt", "too_long", "活动时长不能超过 24 小时",
                                "an activity lasts at most 24 hours"))
    return problems


def _capacity_problems(capacity: int | None) -> list[Problem]:
    if capacity is None:
        return [Problem("input.capacity", "required", "请填写人数上限", "input.capacity is required")]
    if not 1 <= capacity <= MAX_CAPACITY:
        return [Problem("input.capacity", "out_of_range", f"人数上限须在 1 到 {MAX_CAPACITY} 之间",
                        f"input.capacity must be 1 to {MAX_CAPACITY}")]
    return []


def _posts(posts: list[Post] | None, capacity: int | None) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The posts needed as stored ([{role, count}]) and their problems."""
    if not posts:
        return [], []
    if len(posts) > MAX_POSTS:
        return [], [Problem("input.postsNeeded", "too_many", f"岗位不能超过 {MAX_POSTS} 个",
                            f"at most {MAX_POSTS} posts")]
    out: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for i, p in enumerate(posts):
        field = f"input.postsNeeded.{i}"
        role = p.role.strip()
        problems += text_problems(f"{field}.role", role, "岗位名称", required=True, limit=100)
        if any(o["role"] == role for o in out):
            problems.append(Problem(f"{field}.role", "duplicate", "岗位重复", f"{field}.role is listed twice"))
        if not 1 <= p.count <= (capacity or MAX_CAPACITY):
            problems.append(Problem(f"{field}.count", "out_of_range", "岗位人数须在 1 到人数上限之间",
                                    f"{field}.count must be 1 to the capacity"))
        out.append({"role": role, "count": p.count})
    return out, problems


def _text(title: str | None, kind: str | None, place: str | None) -> list[Problem]:
    problems = []
    if title is not None:
        problems += text_problems("input.title", title, "活动名称", required=True, limit=200)
    if kind is not None and not KIND.fullmatch(kind):
        problems.append(Problem("input.kind", "format", "活动类型须为小写字母、数字和下划线（如 volunteer_service）",
                                "input.kind: a-z, 0-9 and _, starting with a letter (e.g. volunteer_service)"))
    if place is not None:
        problems += text_problems("input.place", place, "活动地点", required=False, limit=200)
    return problems


async def locked(activity_id: int) -> Activity:
    """The activity row, locked (FOR UPDATE): the first lock of every change to an activity or its sign-ups."""
    row = await Activity.filter(id=activity_id).select_for_update().first()
    if row is None:
        raise NotFound("活动不存在", "no such activity", field="id")
    return row


async def readable_one(access: Access, activity_id: int, *, field: str = "id") -> Activity:
    """The activity if the caller reads it; NOT_FOUND otherwise."""
    row = await readable_activities(access).filter(id=activity_id).first()
    if row is None:
        raise NotFound("活动不存在", "no such activity", field=field)
    return row


async def visible(access: Access, activity_id: int, *, field: str = "id") -> Activity:
    """The activity if the caller reads it (NOT_FOUND otherwise), then locked."""
    await readable_one(access, activity_id, field=field)
    return await locked(activity_id)


async def _step(action: str, access: Access, row: Activity, **args: Any) -> Any:
    async def allow(permission: str, activity: Activity) -> None:
        manages(access, activity)

    return await transition(STEPS[action], ACTIVITY, row, state=ActivityStatus(row.status), allow=allow, **args)


# The waiting list -----------------------------------------------------------------------------------------------


async def places_taken(activity_id: int) -> int:
    """Places held (signed and assigned sign-ups); call with the activity locked."""
    return await Signup.filter(activity_id=activity_id, status__in=TAKEN).count()


async def renumber(activity_id: int) -> None:
    """Close the gaps in an activity's waiting line: positions become 1..n in line order. Two statements through
    negative numbers, because PostgreSQL checks the unique (activity, position) index of waiting sign-ups row by
    row: an in-place shift can collide with a row not yet moved."""
    conn, tid = connections.get("default"), current_tenant_id()
    await conn.execute_query(
        "UPDATE dual_signup s SET position = -r.n FROM (SELECT id, row_number() OVER (ORDER BY position) AS n"
        " FROM dual_signup WHERE tenant_id = $1 AND activity_id = $2 AND status = 'waiting') r"
        " WHERE s.tenant_id = $1 AND s.id = r.id AND s.position <> r.n",
        [tid, activity_id],
    )
    await conn.execute_query(
        "UPDATE dual_signup SET position = -position"
        " WHERE tenant_id = $1 AND activity_id = $2 AND status = 'waiting' AND position < 0",
        [tid, activity_id],
    )


async def fill_places(row: Activity, *, at: datetime) -> list[int]:
    """Promote the first in line to the free places (capacity minus places taken), close the line up, and tell
    each promoted person once. Call with the activity locked. Returns the promoted sign-ups' ids."""
    free = row.capacity - await places_taken(row.id)
    if free <= 0:
        return []
    promoted = await connections.get("default").execute_query_dict(
        "UPDATE dual_signup SET status = 'signed', position = NULL, updated_at = $4"
        " WHERE tenant_id = $1 AND activity_id = $2 AND status = 'waiting' AND position <= $3"
        " RETURNING id, person_id",
        [current_tenant_id(), row.id, free, at],
    )
    if not promoted:
        return []
    await renumber(row.id)
    users = await Person.filter(id__in=[p["person_id"] for p in promoted]).values_list("user_id", flat=True)
    local = row.starts_at.astimezone(await current_zone()).strftime("%Y-%m-%d %H:%M")
    await send_all([Message(
        to=[str(u) for u in users if u], kind="dual_activity_promoted", title=f"候补转正：{row.title}",
        text=f"活动“{row.title}”（{local}）有空位，您已由候补转为正式报名。 A place came free on {row.title} "
             f"({local}): you are signed up.",
    )], at=at)
    return [int(p["id"]) for p in promoted]


@idempotent("createActivity", Activity)
async def create(
    *, access: Access, actor: str, community_id: int, title: str, kind: str, place: str = "",
    starts_at: datetime | None, ends_at: datetime | None, capacity: int | None, posts_needed: list[Post] | None = None,
    outside_hours: bool | None = None,
) -> Activity:
    """A new open activity of a community (staff of the community or its street)."""
    require(access, "dual.activity.manage")
    now = clock.now()
    async with savepoint():
        community = await Community.get_or_none(id=community_id)
        if community is None:
            raise NotFound("社区不存在", "no such community", field="input.communityId")
        manages(access, Activity(community_id=community.id, street_id=community.street_id))
        cfg = await dual_config(field="input.communityId")
        posts, problems = _posts(posts_needed, capacity)
        problems = _text(title, kind, place) + _time_problems(starts_at, ends_at, now) + _capacity_problems(
            capacity) + problems
        if problems:
            raise InvalidInput.of(problems)
        assert starts_at is not None and ends_at is not None and capacity is not None
        if outside_hours is None:
            outside_hours = outside_working_hours(starts_at, ends_at, cfg.working_hours, await current_zone())
        row = await Activity.create(
            community_id=community.id, street_id=community.street_id, title=title.strip(), kind=kind,
            place=place.strip(), starts_at=starts_at, ends_at=ends_at, capacity=capacity, posts_needed=posts,
            outside_working_hours=outside_hours, checkin_key=secrets.token_hex(32), created_by=actor, created_at=now,
        )
        await audit.record(actor=actor, action="dual.activity.create", target_type="dual_activity", target_id=row.id,
                           details={"communityId": row.community_id, "title": row.title, "capacity": capacity,
                                    "startsAt": starts_at.isoformat(), "outsideWorkingHours": outside_hours})
        return row


async def update(
    *, access: Access, actor: str, activity_id: int, title: str | None = None, kind: str | None = None,
    place: str | None = None, starts_at: datetime | None = None, ends_at: datetime | None = None,
    capacity: int | None = None, posts_needed: list[Post] | None = None, outside_hours: bool | None = None,
) -> Activity:
    """Change an open activity. A larger capacity promotes from the waiting list; a capacity below the places
    taken is refused. New times (unless ``outside_hours`` is given) recompute 8小时以外."""
    async with savepoint():
        row = await visible(access, activity_id)
        return await _step("update", access, row, actor=actor, title=title, kind=kind, place=place,  # type: ignore[no-any-return]
                           starts_at=starts_at, ends_at=ends_at, capacity=capacity, posts_needed=posts_needed,
                           outside_hours=outside_hours)


async def _update(
    row: Activity, *, actor: str, title: str | None, kind: str | None, place: str | None,
    starts_at: datetime | None, ends_at: datetime | None, capacity: int | None, posts_needed: list[Post] | None,
    outside_hours: bool | None,
) -> Activity:
    now = clock.now()
    if now >= row.starts_at:
        raise ActivityStarted("活动已开始，不能修改", "the activity has started: it cannot be changed", field="id")
    new_start, new_end = starts_at or row.starts_at, ends_at or row.ends_at
    problems = _text(title, kind, place)
    if starts_at is not None or ends_at is not None:
        problems += _time_problems(new_start, new_end, now)
    if capacity is not None:
        problems += _capacity_problems(capacity)
    posts, post_problems = _posts(posts_needed, capacity or row.capacity)
    problems += post_problems
    taken = await places_taken(row.id)
    if capacity is not None and not problems and capacity < taken:
        problems.append(Problem("input.capacity", "below_taken", f"已有 {taken} 人报名，人数上限不能低于该数",
                                f"{taken} places are taken: input.capacity cannot be lower"))
    if problems:
        raise InvalidInput.of(problems)
    changed: dict[str, Any] = {}
    for name, value in (("title", title and title.strip()), ("kind", kind), ("place", place and place.strip()),
                        ("capacity", capacity)):
        if value is not None and value != getattr(row, name):
            changed[name] = value
    if posts_needed is not None:
        changed["posts_needed"] = posts
    if starts_at is not None or ends_at is not None:
        changed.update(starts_at=new_start, ends_at=new_end)
        if outside_hours is None:
            cfg = await dual_config()
            outside_hours = outside_working_hours(new_start, new_end, cfg.working_hours, await current_zone())
    if outside_hours is not None:
        changed["outside_working_hours"] = outside_hours
    if not changed:
        return row
    for name, value in changed.items():
        setattr(row, name, value)
    await row.save(update_fields=list(changed))
    if "starts_at" in changed or "outside_working_hours" in changed:
        await Signup.filter(activity_id=row.id).update(starts_at=row.starts_at,
                                                      outside_working_hours=row.outside_working_hours)
    if "capacity" in changed:
        await fill_places(row, at=now)
    await audit.record(actor=actor, action="dual.activity.update", target_type="dual_activity", target_id=row.id,
                       details={k: v.isoformat() if isinstance(v, datetime) else v for k, v in changed.items()})
    return row


async def cancel(*, access: Access, actor: str, activity_id: int, reason: str) -> Activity:
    """Call an open activity off with a reason; everyone signed, assigned or waiting is told once."""
    if problems := text_problems("reason", reason, "取消原因", required=True, limit=500):
        raise InvalidInput.of(problems)
    async with savepoint():
        row = await visible(access, activity_id)
        return await _step("cancel", access, row, actor=actor, reason=reason.strip())  # type: ignore[no-any-return]


async def _cancel(row: Activity, *, actor: str, reason: str) -> Activity:
    now = clock.now()
    row.status = ActivityStatus.CANCELLED
    row.closed_at, row.closed_by = now, actor
    await row.save(update_fields=["status", "closed_at", "closed_by"])
    signed = await Signup.filter(activity_id=row.id).values_list("person_id", "status", "attendance")
    told = {p for p, status, _ in signed if status != SignupStatus.CANCELLED}
    users = dict(await Person.filter(id__in=[p for p, _, _ in signed] or [0]).values_list("id", "user_id"))
    # every present attendance is withdrawn, whatever its sign-up's status now: nothing on a cancelled activity counts
    present = sorted({str(users[p]) for p, _, a in signed if a == Attendance.PRESENT and users.get(p)})
    if present:
        await emit("activity_withdrawn_all", activity_kind=EVENT_KIND, activity_id=row.id, user_ids=present, at=now)
    local = row.starts_at.astimezone(await current_zone()).strftime("%Y-%m-%d %H:%M")
    await send_all([Message(
        to=[str(users[p]) for p in sorted(told) if users.get(p)], kind="dual_activity_cancelled",
        title=f"活动取消：{row.title}",
        text=f"您报名的活动“{row.title}”（{local}）已取消，原因：{reason}。 The activity {row.title} ({local}) is "
             f"cancelled: {reason}.",
    )], at=now)
    await audit.record(actor=actor, action="dual.activity.cancel", target_type="dual_activity", target_id=row.id,
                       details={"reason": reason, "told": len(told)})
    # Nothing on a cancelled activity counts: a sign-up that held its people's streaks open no longer does.
    await rules.apply_member_rules(
        await Signup.filter(activity_id=row.id, status__in=TAKEN).values_list("person_id", "id"),  # type: ignore[arg-type]
        now=now, actor=actor)
    return row


async def close(*, access: Access, actor: str, activity_id: int) -> Activity:
    """Close an activity that has ended: signed and assigned people without attendance are absent."""
    async with savepoint():
        row = await visible(access, activity_id)
        return await _step("close", access, row, actor=actor, at=clock.now())  # type: ignore[no-any-return]


async def _close(row: Activity, *, actor: str, at: datetime, rule: bool = True) -> Activity:
    if at < row.ends_at:
        raise ActivityNotEnded("活动尚未结束，不能关闭", "the activity has not ended yet", field="id")
    absent = await connections.get("default").execute_query_dict(
        "UPDATE dual_signup SET attendance = 'absent', minutes = 0, updated_at = $3"
        " WHERE tenant_id = $1 AND activity_id = $2 AND status IN ('signed', 'assigned') AND attendance IS NULL"
        " RETURNING id",
        [current_tenant_id(), row.id, at],
    )
    row.status = ActivityStatus.CLOSED
    row.closed_at, row.closed_by = at, actor
    await row.save(update_fields=["status", "closed_at", "closed_by"])
    await audit.record(actor=actor, action="dual.activity.close", target_type="dual_activity", target_id=row.id,
                       details={"absent": len(absent)})
    # The absence rule runs at once, in this transaction (the hourly dual_rules job is the backstop for an
    # activity closed before it existed: it takes every closed activity whose rules have not run). ``close_due``
    # rules all it closed at once instead: one lock statement per transaction keeps the members' locks in order.
    if rule:
        await rules.apply_absence_rules(row.id, now=at, actor=actor)
    return row


_TABLE: tuple[Transition[Activity], ...] = (
    Transition("update", {ActivityStatus.OPEN}, "dual.activity.manage", _update),
    Transition("cancel", {ActivityStatus.OPEN}, "dual.activity.manage", _cancel),
    Transition("close", {ActivityStatus.OPEN}, "dual.activity.manage", _close),
)
STEPS: dict[str, Transition[Activity]] = {t.action: t for t in _TABLE}


async def close_due(*, now: datetime, after: timedelta) -> int:
    """Close every open activity that ended ``after`` ago or more (the hourly job); safe to run twice: each
    activity is locked and closed once. Returns how many it closed."""
    from tenants.territory.access import SYSTEM

    due = await Activity.filter(status=ActivityStatus.OPEN, ends_at__lte=now - after).order_by(
        "starts_at", "id").values_list("id", flat=True)
    closed: list[int] = []
    for activity_id in due:
        async with savepoint():
            row = await locked(activity_id)  # type: ignore[arg-type]
            if row.status == ActivityStatus.OPEN:
                await _step("close", SYSTEM, row, actor="system", at=now, rule=False)
                closed.append(row.id)
    if closed:
        await rules.rule_activities(closed, now=now)
    return len(closed)
