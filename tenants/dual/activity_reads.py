"""双报到 activity reads: the activity list, a member's own sign-ups, an activity's attendance, a member's hours in
a tenant-local year. Each starts from ``readable`` (activity_access.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tenants import periods
from tenants.dual.access import member_scope
from tenants.dual.activities import BY_START, TAKEN, readable_one
from tenants.dual.activity_access import manages, own_persons, readable_activities, readable_signups
from tenants.dual.models import Activity, ActivityStatus, Attendance, Signup
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.paging import Order, Page, Window, newest, page
from tenants.permissions import require
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.people import Person


async def list_activities(
    *, access: Access, window: Window, community_id: int | None = None, since: datetime | None = None,
    until: datetime | None = None, status: str | None = None,
) -> Page[Activity]:
    """The activities the caller reads, by start time then id (a keyset list)."""
    naive = [name for name, value in (("from", since), ("to", until)) if value is not None and value.tzinfo is None]
    if naive:
        raise InvalidInput.of([Problem(name, "naive", "时间须带时区（如 +08:00）",
                                       f"{name} needs a time zone offset (e.g. +08:00)") for name in naive])
    qs = readable_activities(access)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if since is not None:
        qs = qs.filter(starts_at__gte=since)
    if until is not None:
        qs = qs.filter(starts_at__lt=until)
    if status is not None:
        qs = qs.filter(status=status)
    return await page(qs, BY_START, window)


async def _with_activities(access: Access, got: Page[Signup]) -> Page[tuple[Signup, Activity]]:
    ids = sorted({s.activity_id for s in got.rows})
    found = {a.id: a for a in await Activity.filter(id__in=ids or [0])}  # the caller reads these sign-ups' rows
    return got.with_rows([(s, found[s.activity_id]) for s in got.rows])


async def my_activities(*, access: Access, window: Window) -> Page[tuple[Signup, Activity]]:
    """The caller's own sign-ups with their activities, the latest start first."""
    qs = Signup.filter(person_id__in=[p.id for p in await own_persons(access)] or [0])
    return await _with_activities(access, await page(qs, newest("starts_at"), window))


async def attendance(*, access: Access, activity_id: int, window: Window) -> Page[Signup]:
    """An activity's sign-ups (staff of its community or street): status, place in line, attendance, minutes."""
    manages(access, await readable_one(access, activity_id))
    qs = readable_signups(access).filter(activity_id=activity_id)
    return await page(qs, Order(("id",), (int,)), window)


@dataclass(frozen=True)
class Hours:
    """A member's participation in a tenant-local year: activities attended, minutes, minutes outside working
    hours (8小时以外)."""

    person_id: int
    year: int
    count: int
    minutes: int
    outside_minutes: int


async def member_hours(*, access: Access, year: int, person_id: int | None = None) -> Hours:
    """A member's year (their own without ``person_id``; staff and a unit's contact: the sign-ups they read).
    Participation: present on a place held (signed or assigned) on an activity not cancelled, counted in the year of
    its start (tenant time). ``dual.read``; NOT_FOUND for a person the caller does not read (``member_scope``)."""
    require(access, "dual.read")
    periods.check_year(year, "year")
    if person_id is not None:
        scope = member_scope(access, "id")
        if not await Person.filter(*([scope] if scope is not None else []), id=person_id).exists():
            raise NotFound("人员不存在", "no such person", field="personId")
    else:
        own = await own_persons(access).first()
        if own is None:
            raise NotFound("您在本地区没有人员档案", "you have no person record here", field="personId")
        person_id = own.id
    zone = await current_zone()
    start, end = periods.local_midnight(date(year, 1, 1), zone), periods.local_midnight(date(year + 1, 1, 1), zone)
    rows = await readable_signups(access).filter(
        person_id=person_id, status__in=TAKEN, attendance=Attendance.PRESENT, starts_at__gte=start, starts_at__lt=end
    ).values_list("activity_id", "minutes", "outside_working_hours")
    cancelled = set(await Activity.filter(
        id__in=sorted({r[0] for r in rows}) or [0], status=ActivityStatus.CANCELLED).values_list("id", flat=True))
    kept = [r for r in rows if r[0] not in cancelled]
    return Hours(person_id=person_id, year=year, count=len(kept), minutes=sum(r[1] for r in kept),
                 outside_minutes=sum(r[1] for r in kept if r[2]))
