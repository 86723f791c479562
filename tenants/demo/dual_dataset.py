"""A 双滦-sized 双报到 dataset (seed 004: 62 units, 1,820 members, 1,188 of them online or offline building heads),
made set-based in the tenant in scope: a dozen INSERT ... SELECT statements over generate_series, never a loop of
creates, so the benchmark's city (11,328 members, 500 communities, 50,000 activities) takes seconds.

What it makes, all tagged by ``prefix`` (codes and user ids), and what it returns (``DualDataset``):
- territory: ``communities`` communities, ``communities_per_street`` (10) to a street, each with one grid, one
  compound and ``buildings_per_community`` buildings (by default a quarter more than the building heads need, so
  the coverage report has buildings with and without a member building head);
- ``units`` work units (organ, institution, enterprise in turn), each registered (approved) at one community
  (unit u at community u mod C) and with a contact person holding the work_unit_contact post;
- ``members`` party members (``person.is_party_member``), member g approved at community g mod C, working at unit
  g mod U, living in building (g div C) of it, some with skills (medical, security, logistics, publicity);
- ``building_heads`` of them (g < H) holding a building-head post on their own building (distinct buildings:
  the pair (g mod C, g div C) is unique), online for even g, offline for odd;
- ``activities`` closed activities of 2 hours in ``year`` (tenant time), spread over the year per community,
  alternately at 19:00 (outside working hours 8小时以外) and 10:00 (inside them on a working day), and
  ``activities_per_member`` sign-ups per member, in their own community, in date order. Attendance: a member with
  g mod 10 = 9 misses their last two (two absences in a row: a talk, and below the minimum when the sign-ups
  are 6 and the minimum 5), one with g mod 10 = 4 misses their first, everyone else is present; a present sign-up
  counts the activity's 120 minutes.

The activities are marked as having had their absence rules run (``rules_run_at``), so the rule job does not open a
year of talks at once; pass ``rules_ran=False`` to leave them to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from tenants import clock
from tenants.config.service import effective_config
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy import cache as tenant_cache

MINUTES = 120  # every activity's length, and a present sign-up's minutes
SKILLS = ('["medical"]', '["security"]', '["logistics"]', '["publicity"]')  # member g: SKILLS[g mod 6], or none


@dataclass(frozen=True)
class DualDataset:
    """What ``seed_shuangluan_sized`` created: the figures the coverage and year-end reports must show."""

    year: int
    streets: int
    communities: int
    buildings: int
    buildings_with_head: int
    units: int
    unit_registrations: int
    unit_contacts: int
    members: int
    member_registrations: int
    building_heads: int
    online_building_heads: int
    offline_building_heads: int
    activities: int
    signups: int
    present: int
    absent: int
    minutes: int  # present minutes in all
    outside_minutes: int  # present minutes of activities outside working hours
    members_below_minimum: int  # fewer present sign-ups in the year than min_participations_per_year
    min_participations: int


async def seed_shuangluan_sized(
    *,
    units: int = 62,
    members: int = 1_820,
    building_heads: int = 1_188,
    communities: int = 28,  # 双滦's 28 urban communities (seed 004)
    communities_per_street: int = 10,
    activities_per_member: int = 6,
    activities: int | None = None,  # default: 12 a community (one a month)
    buildings_per_community: int | None = None,
    year: int | None = None,  # default: the tenant's last year (every activity over)
    prefix: str = "sl",
    rules_ran: bool = True,
) -> DualDataset:
    """Create the dataset in the tenant in scope (in one transaction) and return what it created."""
    c, u, m, h, s = communities, units, members, building_heads, activities_per_member
    a = activities if activities is not None else 12 * c
    per = buildings_per_community if buildings_per_community is not None else math.ceil(h * 5 / (c * 4))
    if min(c, u, m, s, communities_per_street) < 1 or not 0 <= h <= m or a < c * s or per < math.ceil(h / c):
        raise ValueError("need communities, units, members and sign-ups >= 1, building_heads <= members, "
                         "activities >= communities x activities_per_member, enough buildings for the heads")
    tid, at = current_tenant_id(), clock.now()
    async with scoped_transaction() as conn:
        doc = (await effective_config()).document.party.dual_registration
        zone = (await tenant_cache.by_id(tid)).timezone
        year = year if year is not None else (await clock.today()).year - 1
        jan1 = date(year, 1, 1)

        async def run(sql: str, *params: Any) -> list[dict]:
            return await conn.execute_query_dict(sql, [tid, prefix, at, *params])  # type: ignore[no-any-return]

        # The tables have no statistics yet (the application role may not ANALYZE them): without this the planner
        # nests loops over thousands of rows on each side of a join (a minute instead of a second).
        await conn.execute_script("SET LOCAL enable_nestloop = off")
        await _territory(run, c, per, communities_per_street)
        places = await run(
            "SELECT c.id, c.street_id, k.id AS compound_id FROM community c JOIN compound k ON k.community_id = c.id"
            " WHERE c.tenant_id = $1 AND c.code LIKE $2 || 'C%' AND $3::timestamptz IS NOT NULL"  # $3: every call's
            " ORDER BY substr(c.code, length($2) + 2)::int")
        comm = ([p["id"] for p in places], [p["street_id"] for p in places], [p["compound_id"] for p in places])
        await _units(run, u, comm, jan1)
        registered = await _members(run, m, h, u, comm, per, jan1)
        figures = await _activities(run, comm, a, s, year, zone, doc.working_hours, rules_ran)
        await conn.execute_script("SET LOCAL enable_nestloop TO DEFAULT")
    low = sum(1 for g in range(m) if g % 10 == 9)
    one = sum(1 for g in range(m) if g % 10 == 4)
    present_of = {"low": max(s - 2, 0), "one": s - 1, "all": s}
    below = sum(n for kind, n in (("low", low), ("one", one), ("all", m - low - one))
                if present_of[kind] < doc.min_participations_per_year)
    return DualDataset(
        year=year, streets=math.ceil(c / communities_per_street), communities=c, buildings=c * per,
        buildings_with_head=h, units=u,
        unit_registrations=u, unit_contacts=u, members=m, member_registrations=registered, building_heads=h,
        online_building_heads=(h + 1) // 2, offline_building_heads=h // 2, activities=a,
        signups=figures["signups"], present=figures["present"], absent=figures["absent"],
        minutes=figures["minutes"], outside_minutes=figures["outside_minutes"], members_below_minimum=below,
        min_participations=doc.min_participations_per_year,
    )


# $1 tenant, $2 prefix, $3 now; then each statement's own.
_STAMP = "$3::timestamptz, $3::timestamptz"


async def _territory(run: Any, c: int, per: int, cps: int) -> None:
    """Streets of ``cps`` communities, one grid and one compound a community, ``per`` buildings in each compound."""
    await run("INSERT INTO street (tenant_id, code, name, is_active, created_at, updated_at)"
              f" SELECT $1, $2 || 'S' || n, '双报到街道' || (n + 1), true, {_STAMP}"
              " FROM generate_series(0, $4::int - 1) n", math.ceil(c / cps))
    await run("INSERT INTO community (tenant_id, street_id, code, name, is_active, created_at, updated_at)"
              f" SELECT $1, s.id, $2 || 'C' || n, '双报到社区' || (n + 1), true, {_STAMP}"
              " FROM generate_series(0, $4::int - 1) n"
              " JOIN street s ON s.tenant_id = $1 AND s.code = $2 || 'S' || (n / $5::int)"
              " ORDER BY n", c, cps)
    await run("INSERT INTO grid (tenant_id, street_id, community_id, code, name, is_active, created_at, updated_at)"
              f" SELECT $1, c.street_id, c.id, $2 || 'G', c.name || '网格', true, {_STAMP}"
              " FROM community c WHERE c.tenant_id = $1 AND c.code LIKE $2 || 'C%' ORDER BY c.id")
    await run("INSERT INTO compound (tenant_id, street_id, community_id, grid_id, code, name, address, is_active,"
              f" created_at, updated_at) SELECT $1, g.street_id, g.community_id, g.id, $2 || 'K', '小区', '', true,"
              f" {_STAMP} FROM grid g WHERE g.tenant_id = $1 AND g.code = $2 || 'G' ORDER BY g.id")
    await run("INSERT INTO building (tenant_id, street_id, community_id, grid_id, compound_id, code, name, is_active,"
              f" created_at, updated_at) SELECT $1, k.street_id, k.community_id, k.grid_id, k.id, $2 || 'B' || b,"
              f" (b + 1) || '号楼', true, {_STAMP} FROM compound k CROSS JOIN generate_series(0, $4::int - 1) b"
              " WHERE k.tenant_id = $1 AND k.code = $2 || 'K' ORDER BY k.id, b", per)


_COMM = ("unnest($4::bigint[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS c(id, street_id, compound_id, n1)")


async def _units(run: Any, u: int, comm: tuple, jan1: date) -> None:
    """Work units, one approved registration each (unit i at community i mod C), and a contact person each."""
    await run("INSERT INTO work_unit (tenant_id, kind, code, name, party_org, contact_name, contact_phone, is_active,"
              f" created_at, updated_at) SELECT $1, (ARRAY['organ', 'institution', 'enterprise'])[i % 3 + 1],"
              " $2 || 'U' || i, '报到单位' || (i + 1), '报到单位' || (i + 1) || '党支部', '联络人' || (i + 1), '',"
              f" true, {_STAMP} FROM generate_series(0, $4::int - 1) i ORDER BY i", u)
    await run("INSERT INTO dual_unit_registration (tenant_id, work_unit_id, community_id, street_id, resources,"
              " agreement_from, agreement_until, status, reason, created_by, created_at, decided_by, decided_at)"
              " SELECT $1, w.id, c.id, c.street_id, '[\"志愿服务\", \"活动场地\"]'::jsonb, $7::date, NULL, 'approved',"
              f" '', 'dataset', $3, 'dataset', $3 FROM work_unit w JOIN {_COMM}"
              " ON c.n1 - 1 = substr(w.code, length($2) + 2)::int % cardinality($4::bigint[])"
              " WHERE w.tenant_id = $1 AND w.code LIKE $2 || 'U%'", *comm, jan1)
    await run("INSERT INTO person (tenant_id, user_id, name, phone, household_id, is_party_member, deactivated_at,"
              f" created_at, updated_at) SELECT $1, $2 || '-unit-' || substr(w.code, length($2) + 2), w.contact_name,"
              f" '', NULL, false, NULL, {_STAMP} FROM work_unit w WHERE w.tenant_id = $1 AND w.code LIKE $2 || 'U%'")
    await run("INSERT INTO post (tenant_id, person_id, kind, target_kind, target_id, body_code, starts_on, ends_on,"
              " ended_at, created_at) SELECT $1, p.id, 'work_unit_contact', 'work_unit', w.id, NULL, $4::date, NULL,"
              " NULL, $3 FROM work_unit w JOIN person p ON p.tenant_id = $1"
              " AND p.user_id = $2 || '-unit-' || substr(w.code, length($2) + 2)"
              " WHERE w.tenant_id = $1 AND w.code LIKE $2 || 'U%'", jan1)


async def _members(run: Any, m: int, h: int, u: int, comm: tuple, per: int, jan1: date) -> int:
    """Party members, their approved registrations and the building heads' posts; the registrations made."""
    await run("INSERT INTO person (tenant_id, user_id, name, phone, household_id, is_party_member, deactivated_at,"
              f" created_at, updated_at) SELECT $1, $2 || '-m-' || g, '在职党员' || (g + 1), '', NULL, true, NULL,"
              f" {_STAMP} FROM generate_series(0, $4::int - 1) g ORDER BY g", m)
    # member g: community g mod C, building (g div C) mod per of its compound, unit g mod U
    made = await run(
        "WITH p AS (SELECT id, substr(user_id, length($2) + 4)::int AS g FROM person"
        "   WHERE tenant_id = $1 AND user_id LIKE $2 || '-m-%'),"
        f" c AS (SELECT * FROM {_COMM}),"
        " r AS (INSERT INTO dual_member_registration (tenant_id, person_id, community_id, street_id, work_unit_id,"
        "   work_unit_name, party_org, building_id, skills, status, reason, replaces_id, starts_on, ends_on,"
        "   self_registered, created_by, created_at, decided_by, decided_at)"
        "   SELECT $1, p.id, c.id, c.street_id, w.id, '', w.party_org, b.id,"
        "   (CASE p.g % 6 WHEN 0 THEN $10 WHEN 1 THEN $11 WHEN 2 THEN $12 WHEN 3 THEN $13 ELSE '[]' END)::jsonb,"
        "   'approved', '', NULL, $7::date, NULL, p.g % 2 = 0, 'dataset', $3, 'dataset', $3"
        "   FROM p JOIN c ON c.n1 - 1 = p.g % cardinality($4::bigint[])"
        "   JOIN work_unit w ON w.tenant_id = $1 AND w.code = $2 || 'U' || (p.g % $9::int)"
        "   JOIN building b ON b.tenant_id = $1 AND b.compound_id = c.compound_id"
        "     AND b.code = $2 || 'B' || ((p.g / cardinality($4::bigint[])) % $8::int)"
        "   ORDER BY p.g RETURNING id, person_id, community_id, street_id, building_id)"
        " SELECT count(*) AS n FROM r", *comm, jan1, per, u, *SKILLS)
    await run("INSERT INTO dual_member_post (tenant_id, registration_id, person_id, community_id, street_id, kind,"
              " building_id, role, starts_on, ends_on, created_by, created_at)"
              " SELECT $1, r.id, r.person_id, r.community_id, r.street_id,"
              " CASE WHEN p.g % 2 = 0 THEN 'online_building_head' ELSE 'offline_building_head' END, r.building_id,"
              " '', $4::date, NULL, 'dataset', $3"
              " FROM (SELECT id, substr(user_id, length($2) + 4)::int AS g FROM person"
              "   WHERE tenant_id = $1 AND user_id LIKE $2 || '-m-%') p"
              " JOIN dual_member_registration r ON r.tenant_id = $1 AND r.person_id = p.id"
              " WHERE p.g < $5::int ORDER BY p.g", jan1, h)
    return int(made[0]["n"])


async def _activities(run: Any, comm: tuple, a: int, s: int, year: int, zone: str, hours: Any,
                      rules_ran: bool) -> dict[str, int]:
    """The year's closed activities (activity i: community i mod C, its (i div C)-th) and the members' sign-ups."""
    await run(
        "INSERT INTO dual_activity (tenant_id, community_id, street_id, title, kind, place, starts_at, ends_at,"
        " capacity, posts_needed, outside_working_hours, status, checkin_key, created_by, created_at, closed_at,"
        " closed_by, rules_run_at)"
        " SELECT $1, c.id, c.street_id, '社区服务活动', 'volunteer_service', '社区党群服务中心', x.starts_at,"
        f" x.starts_at + interval '{MINUTES} minutes', 500, '[]'::jsonb,"
        "  NOT (extract(isodow FROM x.l)::int = ANY($10::int[]) AND x.l::time >= $11::time"
        f"   AND (x.l + interval '{MINUTES} minutes')::time <= $12::time"
        f"   AND (x.l + interval '{MINUTES} minutes')::date = x.l::date),"
        " 'closed', md5(random()::text || i), 'dataset:' || $2, $3, x.starts_at + interval '2 hours', 'dataset',"
        " CASE WHEN $13::bool THEN x.starts_at + interval '2 hours' END"
        f" FROM generate_series(0, $7::int - 1) i JOIN {_COMM} ON c.n1 - 1 = i % cardinality($4::bigint[])"
        " CROSS JOIN LATERAL (SELECT i / cardinality($4::bigint[]) AS j,"
        "   ($7::int - (c.n1 - 1) + cardinality($4::bigint[]) - 1) / cardinality($4::bigint[]) AS per) k"
        " CROSS JOIN LATERAL (SELECT make_timestamp($8::int, 1, 1, 0, 0, 0) + (k.j * 365 / k.per) * interval '1 day'"
        "   + (CASE WHEN k.j % 2 = 0 THEN 19 ELSE 10 END) * interval '1 hour' AS l) t"
        " CROSS JOIN LATERAL (SELECT t.l, t.l AT TIME ZONE $9 AS starts_at) x"
        " ORDER BY i",
        *comm, a, year, zone, hours.weekdays, time.fromisoformat(hours.start), time.fromisoformat(hours.end), rules_ran)
    # Member g's k-th sign-up: its community's activity k + (g div C) mod (per - s + 1), so in date order.
    rows = await run(
        "WITH act AS (SELECT id, community_id, starts_at, outside_working_hours,"
        "   row_number() OVER (PARTITION BY community_id ORDER BY id) - 1 AS j,"
        "   count(*) OVER (PARTITION BY community_id) AS per"
        "   FROM dual_activity WHERE tenant_id = $1 AND created_by = 'dataset:' || $2 AND created_at = $3),"
        " mem AS (SELECT r.id AS registration_id, r.person_id, r.community_id,"
        "   substr(p.user_id, length($2) + 4)::int AS g"
        "   FROM person p JOIN dual_member_registration r ON r.tenant_id = $1 AND r.person_id = p.id"
        "   WHERE p.tenant_id = $1 AND p.user_id LIKE $2 || '-m-%'),"
        " s AS (INSERT INTO dual_signup (tenant_id, activity_id, person_id, registration_id, community_id, status,"
        "   position, post, attendance, checked_in_at, checked_in_by, minutes, starts_at, outside_working_hours,"
        "   created_at, updated_at)"
        "   SELECT $1, act.id, mem.person_id, mem.registration_id, mem.community_id, 'signed', NULL, '', v.attendance,"
        "   CASE WHEN v.attendance = 'present' THEN act.starts_at END,"
        "   CASE WHEN v.attendance = 'present' THEN 'dataset' END,"
        f"   CASE WHEN v.attendance = 'present' THEN {MINUTES} ELSE 0 END, act.starts_at, act.outside_working_hours,"
        f"   {_STAMP}"
        "   FROM mem CROSS JOIN generate_series(0, $4::int - 1) k"
        "   JOIN act ON act.community_id = mem.community_id"
        "     AND act.j = k + (mem.g / $5::int) % (act.per - $4::int + 1)"
        "   CROSS JOIN LATERAL (SELECT CASE WHEN mem.g % 10 = 9 AND k >= $4::int - 2 THEN 'absent'"
        "     WHEN mem.g % 10 = 4 AND k = 0 THEN 'absent' ELSE 'present' END AS attendance) v"
        "   ORDER BY mem.g, k RETURNING attendance, minutes, outside_working_hours)"
        " SELECT count(*) AS signups, count(*) FILTER (WHERE attendance = 'present') AS present,"
        "   count(*) FILTER (WHERE attendance = 'absent') AS absent, coalesce(sum(minutes), 0) AS minutes,"
        "   coalesce(sum(minutes) FILTER (WHERE outside_working_hours), 0) AS outside_minutes FROM s",
        s, len(comm[0]))
    return {k: int(v) for k, v in rows[0].items()}
