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
# registrations' parameters and the filters' follow.
#
# Each person's registration of the year is picked over ALL their registrations first (``latest``), and only then
# kept or not by who reads and the caller's filters (``reg``): a member who moved from one unit to another is the
# second unit's in every report, whoever asks. Every part is MATERIALIZED and computed once, and no part joins two
# large sets, so the plan does not depend on what the planner believes of the tables' sizes (freshly loaded tables
# without statistics made it loop over the sign-ups per member): readability is a hashed subplan, each member's
# figures are one GROUP BY over the union of their registration, sign-ups, cases (and posts), cancelled activities
# a hashed NOT IN, names a lookup by primary key (OFFSET 0: a subquery per member, never a join). The sign-ups,
# cases and posts are read per member of ``reg`` (an index range each), unless ``reg`` is every member of the tenant:
# then the year's rows are read whole.
MEMBERS_SQL = """
latest AS MATERIALIZED (
    SELECT DISTINCT ON (r.person_id) r.person_id, r.id AS registration_id, r.community_id, r.street_id,
           r.work_unit_id, r.work_unit_name, {readable} AS readable
    FROM dual_member_registration r
    WHERE r.tenant_id = $1 AND r.status IN ('approved', 'moved', 'ended') AND r.starts_on IS NOT NULL
      AND r.starts_on <= $3 AND (r.ends_on IS NULL OR r.ends_on >= $2)
    ORDER BY r.person_id, r.starts_on DESC, r.id DESC
), reg AS MATERIALIZED (
    SELECT person_id, registration_id, community_id, street_id, work_unit_id, work_unit_name
    FROM latest WHERE readable{filters}
    ORDER BY person_id{limit}
), parts AS MATERIALIZED (
    SELECT person_id, registration_id, community_id, street_id, work_unit_id, work_unit_name,
           0 AS participations, 0 AS minutes, 0 AS outside_minutes, 0 AS absences, 0 AS talks, 0 AS notices,
           0 AS posts
    FROM reg
    UNION ALL
    SELECT s.person_id, NULL, NULL, NULL, NULL, NULL, (s.attendance = 'present')::int,
           CASE WHEN s.attendance = 'present' THEN s.minutes ELSE 0 END,
           CASE WHEN s.attendance = 'present' AND s.outside_working_hours THEN s.minutes ELSE 0 END,
           (s.attendance = 'absent')::int, 0, 0, 0
    FROM {signups}
    WHERE s.tenant_id = $1 AND s.starts_at >= $4 AND s.starts_at < $5 AND s.status IN ('signed', 'assigned')
      AND s.attendance IS NOT NULL
      AND s.activity_id NOT IN (SELECT v.id FROM dual_activity v WHERE v.tenant_id = $1 AND v.status = 'cancelled')
    UNION ALL
    SELECT c.person_id, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, (c.kind = 'talk')::int, (c.kind = 'notice')::int,
           0
    FROM {cases}
    WHERE c.tenant_id = $1 AND c.absent_at >= $4 AND c.absent_at < $5 AND c.status <> 'withdrawn'{posts}
), m AS MATERIALIZED (
    SELECT person_id, max(registration_id) AS registration_id, max(community_id) AS community_id,
           max(street_id) AS street_id, max(work_unit_id) AS work_unit_id, max(work_unit_name) AS work_unit_name,
           sum(participations)::int AS participations, sum(minutes)::int AS minutes,
           sum(outside_minutes)::int AS outside_minutes, sum(absences)::int AS absences, sum(talks)::int AS talks,
           sum(notices)::int AS notices, sum(posts)::int AS posts, sum(participations) < $6 AS below_minimum
    FROM parts GROUP BY person_id HAVING count(registration_id) > 0
)"""

POSTS = """
    UNION ALL
    SELECT mp.person_id, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 1
    FROM {posts}
    WHERE mp.tenant_id = $1 AND mp.starts_on <= $3 AND (mp.ends_on IS NULL OR mp.ends_on >= $2)"""

ROWS_SQL = """
SELECT m.*, coalesce(p.name, '') AS name, coalesce(p.user_id, '') AS user_id
FROM m LEFT JOIN LATERAL (SELECT name, user_id FROM person WHERE id = m.person_id OFFSET 0) p ON TRUE
{where}ORDER BY m.person_id{limit}
"""

UNITS_SQL = """, per_unit AS MATERIALIZED (
    SELECT work_unit_id, COUNT(*)::int AS members, SUM(posts)::int AS posts, SUM(participations)::int AS participations,
           COUNT(*) FILTER (WHERE below_minimum)::int AS below_minimum
    FROM m WHERE work_unit_id IS NOT NULL GROUP BY work_unit_id
)
SELECT w.id AS work_unit_id, w.code, w.name, COALESCE(u.members, 0) AS members, COALESCE(u.posts, 0) AS posts,
       COALESCE(u.participations, 0) AS participations, COALESCE(u.below_minimum, 0) AS below_minimum
FROM work_unit w
LEFT JOIN per_unit u ON u.work_unit_id = w.id
WHERE w.tenant_id = $1 AND ({units})
"""


def _source(table: str, alias: str, only: bool) -> str:
    """``table`` as the union's source: whole, or (``only``) each of ``reg``'s members' rows, read per member by
    the index leading with (tenant_id, person_id)."""
    if not only:
        return f"{table} {alias}"
    return (f"reg q CROSS JOIN LATERAL (SELECT * FROM {table} x WHERE x.tenant_id = $1 AND x.person_id = q.person_id"
            f" OFFSET 0) {alias}")


def members_sql(*, readable: str, filters: str = "", limit: str = "", only: bool = False, posts: bool = False) -> str:
    """The ``m`` part (members and their figures) for ``WITH``: ``only`` narrows the year's rows to ``reg``'s
    members (a page, one person)."""
    return MEMBERS_SQL.format(
        readable=readable, filters=filters, limit=limit, signups=_source("dual_signup", "s", only),
        cases=_source("dual_absence_case", "c", only),
        posts=POSTS.format(posts=_source("dual_member_post", "mp", only)) if posts else "",
    )


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
    """Whether a registration is one the caller reads: ``r.id IN (...)`` (a hashed subplan, computed once), or
    ``TRUE`` when they read every row of the tenant."""
    ids, params = _sql(qs.values_list("id", flat=True), offset)
    every, _ = _sql(qs.model.all().values_list("id", flat=True), offset)
    return ("TRUE", []) if ids == every else (f"r.id IN ({ids})", params)


def _member(r: dict) -> MemberYear:
    return MemberYear(**{k: r[k] for k in MemberYear.__dataclass_fields__})


async def member_rows(
    *, access: Access, year: int, window: Window | None = None, community_id: int | None = None,
    work_unit_id: int | None = None, below_minimum_only: bool = False, person_id: int | None = None,
) -> Page[MemberYear]:
    """The year's rows of the members the caller reads, by person id (a window of them, or all). A member's row is
    their latest registration of the year; the caller's scope and filters apply to it."""
    y = await year_of(year)
    params = await y.params()
    readable, more = _readable(readable_members(access), len(params))
    params += more
    filters = ""
    for column, value in (("community_id", community_id), ("work_unit_id", work_unit_id), ("person_id", person_id)):
        if value is not None:
            params.append(value)
            filters += f" AND {column} = ${len(params)}"
    limit = ""
    if window is not None:
        key = checked(window.after, (int,), "after")
        if key is not None:
            params.append(key[0])
            filters += f" AND person_id > ${len(params)}"
        params.append(window.limit)
        limit = f" LIMIT ${len(params)}"
    # Every row: the page is one of registrations (figures computed for its members alone). Only those below the
    # minimum: the page is one of the computed rows.
    # The year's rows are read per member unless they are the whole tenant's members.
    only = readable != "TRUE" or bool(filters) or (window is not None and not below_minimum_only)
    if below_minimum_only:
        members = members_sql(readable=readable, filters=filters, only=only)
        sql = f"WITH {members}{ROWS_SQL.format(where='WHERE m.below_minimum ', limit=limit)}"
    else:
        members = members_sql(readable=readable, filters=filters, limit=limit, only=only)
        sql = f"WITH {members}{ROWS_SQL.format(where='', limit='')}"
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
    y = await year_of(year)
    params = await y.params()
    readable, more = _readable(readable_members(access), len(params))
    params += more
    if access.reads_whole_tenant:
        units = "TRUE"
    else:
        params.append(units_of(access))
        units = f"w.id = ANY(${len(params)}::bigint[]) OR u.work_unit_id IS NOT NULL"
    sql = f"WITH {members_sql(readable=readable, posts=True, only=readable != 'TRUE')}{UNITS_SQL.format(units=units)}"
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
