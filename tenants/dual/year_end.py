"""Year-end 双报到 figures (年终考核, 评先评优): per member and per work unit, for a tenant-local calendar year.

A member of the year is a person with a registration approved during any part of it (approved, or since moved or
ended); their row carries the year's latest such registration (community, work unit). Per member: participations
(sign-ups present on activities not cancelled whose start falls in the year, tenant time: 23:30 on 31 December in
Beijing counts for that year), minutes, minutes outside working hours (8小时以外), absences, talks and notices opened
for absences in the year, and whether participations fall below ``min_participations_per_year``. Per work unit: its
members of the year, the posts they held during it, their participations, and how many fell below the minimum.

Each report is one statement over the caller's readable registrations (``report_access.readable_members``): a unit's
contact reads its own unit's members, a member their own row. Set-based: the year's sign-ups are one range read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise import connections
from tortoise.queryset import QuerySet

from tenants import clock, periods
from tenants.dual.config import dual_config
from tenants.dual.report_access import readable_members, units_of
from tenants.paging import Page, Window, _sql, checked
from tenants.permissions import require
from tenants.scope import current_tenant_id
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.people import Person


@dataclass(frozen=True)
class MemberYear:
    person_id: int
    name: str
    user_id: str
    registration_id: int
    community_id: int
    street_id: int
    work_unit_id: int | None
    work_unit_name: str
    participations: int
    minutes: int
    outside_minutes: int
    absences: int
    talks: int
    notices: int
    below_minimum: bool


@dataclass(frozen=True)
class UnitYear:
    work_unit_id: int
    code: str
    name: str
    members: int
    posts: int
    participations: int
    below_minimum: int


# $1 tenant, $2 first day, $3 last day, $4 first instant, $5 end instant (exclusive), $6 the minimum; the readable
# registrations' parameters follow.
MEMBERS_SQL = """
reg AS MATERIALIZED (
    SELECT DISTINCT ON (r.person_id) r.person_id, r.id AS registration_id, r.community_id, r.street_id,
           r.work_unit_id, r.work_unit_name
    FROM dual_member_registration r
    WHERE r.tenant_id = $1 AND r.status IN ('approved', 'moved', 'ended') AND r.starts_on IS NOT NULL
      AND r.starts_on <= $3 AND (r.ends_on IS NULL OR r.ends_on >= $2) {readable}{after}
    ORDER BY r.person_id, r.starts_on DESC, r.id DESC{limit}
), sums AS MATERIALIZED (
    SELECT s.person_id,
           COUNT(*) FILTER (WHERE s.attendance = 'present') AS participations,
           COALESCE(SUM(s.minutes) FILTER (WHERE s.attendance = 'present'), 0) AS minutes,
           COALESCE(SUM(s.minutes) FILTER (WHERE s.attendance = 'present' AND s.outside_working_hours), 0)
               AS outside_minutes,
           COUNT(*) FILTER (WHERE s.attendance = 'absent') AS absences
    FROM dual_signup s
    JOIN dual_activity a ON a.tenant_id = s.tenant_id AND a.id = s.activity_id AND a.status <> 'cancelled'
    WHERE s.tenant_id = $1 AND s.starts_at >= $4 AND s.starts_at < $5 AND s.status IN ('signed', 'assigned')
      AND s.attendance IS NOT NULL AND s.person_id IN (SELECT person_id FROM reg)
    GROUP BY s.person_id
), cases AS MATERIALIZED (
    SELECT c.person_id, COUNT(*) FILTER (WHERE c.kind = 'talk') AS talks,
           COUNT(*) FILTER (WHERE c.kind = 'notice') AS notices
    FROM dual_absence_case c
    WHERE c.tenant_id = $1 AND c.absent_at >= $4 AND c.absent_at < $5 AND c.person_id IN (SELECT person_id FROM reg)
    GROUP BY c.person_id
), m AS MATERIALIZED (
    SELECT reg.*, COALESCE(p.name, '') AS name, COALESCE(p.user_id, '') AS user_id,
           COALESCE(s.participations, 0)::int AS participations, COALESCE(s.minutes, 0)::int AS minutes,
           COALESCE(s.outside_minutes, 0)::int AS outside_minutes, COALESCE(s.absences, 0)::int AS absences,
           COALESCE(c.talks, 0)::int AS talks, COALESCE(c.notices, 0)::int AS notices,
           COALESCE(s.participations, 0) < $6 AS below_minimum
    FROM reg
    LEFT JOIN sums s ON s.person_id = reg.person_id
    LEFT JOIN cases c ON c.person_id = reg.person_id
    LEFT JOIN person p ON p.tenant_id = $1 AND p.id = reg.person_id
)"""

UNITS_SQL = """, posts AS (
    SELECT m.work_unit_id, COUNT(*)::int AS posts
    FROM dual_member_post mp JOIN m ON m.person_id = mp.person_id
    WHERE mp.tenant_id = $1 AND mp.starts_on <= $3 AND (mp.ends_on IS NULL OR mp.ends_on >= $2)
      AND m.work_unit_id IS NOT NULL
    GROUP BY m.work_unit_id
), per_unit AS (
    SELECT work_unit_id, COUNT(*)::int AS members, SUM(participations)::int AS participations,
           COUNT(*) FILTER (WHERE below_minimum)::int AS below_minimum
    FROM m WHERE work_unit_id IS NOT NULL GROUP BY work_unit_id
)
SELECT w.id AS work_unit_id, w.code, w.name, COALESCE(u.members, 0) AS members, COALESCE(p.posts, 0) AS posts,
       COALESCE(u.participations, 0) AS participations, COALESCE(u.below_minimum, 0) AS below_minimum
FROM work_unit w
LEFT JOIN per_unit u ON u.work_unit_id = w.id
LEFT JOIN posts p ON p.work_unit_id = w.id
WHERE w.tenant_id = $1 AND ({units})
"""


@dataclass(frozen=True)
class Year:
    """A tenant-local year: its days and instants, and the minimum in force at its end (or today)."""

    year: int
    first: date
    last: date
    minimum: int

    async def params(self) -> list[Any]:
        zone = await current_zone()
        return [current_tenant_id(), self.first, self.last, periods.local_midnight(self.first, zone),
                periods.local_midnight(date(self.year + 1, 1, 1), zone), self.minimum]


async def year_of(year: int, field: str = "year") -> Year:
    periods.check_year(year, field)
    last = date(year, 12, 31)
    config = await dual_config(min(last, await clock.today()), field=field)
    return Year(year, date(year, 1, 1), last, config.min_participations_per_year)


def _readable(qs: QuerySet[Any], offset: int) -> tuple[str, list[Any]]:
    """``AND r.id IN (...)`` for the caller's registrations, or '' when they read every row of the tenant."""
    ids, params = _sql(qs.values_list("id", flat=True), offset)
    every, _ = _sql(qs.model.all().values_list("id", flat=True), offset)
    return ("", []) if ids == every else (f"AND r.id IN ({ids})", params)


def _member(r: dict) -> MemberYear:
    return MemberYear(**{k: r[k] for k in MemberYear.__dataclass_fields__})


async def member_rows(
    *, access: Access, year: int, window: Window | None = None, community_id: int | None = None,
    work_unit_id: int | None = None, below_minimum_only: bool = False, person_id: int | None = None,
) -> Page[MemberYear]:
    """The year's rows of the members the caller reads, by person id (a window of them, or all)."""
    qs = readable_members(access)
    y = await year_of(year)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if work_unit_id is not None:
        qs = qs.filter(work_unit_id=work_unit_id)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    params = await y.params()
    readable, more = _readable(qs, len(params))
    params += more
    after = limit = ""
    if window is not None:
        key = checked(window.after, (int,), "after")
        if key is not None:
            params.append(key[0])
            after = f" AND r.person_id > ${len(params)}"
        params.append(window.limit)
        limit = f" LIMIT ${len(params)}"
    # Every row: the page is one of registrations (figures computed for it alone). Only those below the minimum:
    # the page is one of the computed rows.
    if below_minimum_only:
        members = MEMBERS_SQL.format(readable=readable, after=after, limit="")
        sql = f"WITH {members} SELECT * FROM m WHERE below_minimum ORDER BY person_id{limit}"
    else:
        members = MEMBERS_SQL.format(readable=readable, after=after, limit=limit)
        sql = f"WITH {members} SELECT * FROM m ORDER BY person_id"
    rows = [_member(r) for r in await connections.get("default").execute_query_dict(sql, params)]
    return Page(rows, [(r.person_id,) for r in rows], None)


async def my_year(*, access: Access, year: int) -> MemberYear | None:
    """The caller's own row of the year (None when they were not a registered member in it)."""
    require(access, "dual.report.read")
    person = await Person.filter(user_id=access.user_id or "").first()
    if person is None:
        return None
    got = await member_rows(access=access, year=year, person_id=person.id)
    return got.rows[0] if got.rows else None


async def unit_rows(*, access: Access, year: int, window: Window | None = None) -> Page[UnitYear]:
    """Per work unit, the year's roll-up of the members the caller reads: the administration every unit, a unit's
    contact its own, staff the units of their area's members."""
    qs = readable_members(access)
    y = await year_of(year)
    params = await y.params()
    readable, more = _readable(qs, len(params))
    params += more
    if access.reads_whole_tenant:
        units = "TRUE"
    else:
        params.append(units_of(access))
        units = f"w.id = ANY(${len(params)}::bigint[]) OR u.work_unit_id IS NOT NULL"
    sql = f"WITH {MEMBERS_SQL.format(readable=readable, after='', limit='')}{UNITS_SQL.format(units=units)}"
    if window is not None:
        after = checked(window.after, (int,), "after")
        if after is not None:
            params.append(after[0])
            sql += f" AND w.id > ${len(params)}"
        params.append(window.limit)
        sql += f" ORDER BY w.id LIMIT ${len(params)}"
    else:
        sql += " ORDER BY w.id"
    rows = await connections.get("default").execute_query_dict(sql, params)
    got = [UnitYear(**{k: r[k] for k in UnitYear.__dataclass_fields__}) for r in rows]
    return Page(got, [(u.work_unit_id,) for u in got], None)


async def export_members(*, access: Access, year: int) -> list[MemberYear]:
    """Every member row the caller reads, for the year-end file (``dual.report.export``)."""
    require(access, "dual.report.export")
    return (await member_rows(access=access, year=year)).rows


async def export_units(*, access: Access, year: int) -> list[UnitYear]:
    """Every work-unit row the caller reads, for the year-end file (``dual.report.export``)."""
    require(access, "dual.report.export")
    return (await unit_rows(access=access, year=year)).rows
