"""平急结合 reads: a community's work groups now (in an emergency its assignments; in normal times the rules'
placement, not stored, with the hand assignments over it), the caller's own groups, the emergencies and their
figures. The switch, placement by hand and stand-down are ``tenants.dual.emergency``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise import connections

from tenants import clock
from tenants.dual.access import in_area
from tenants.dual.emergency import (
    EMERGENCY,
    NORMAL,
    PLACEMENT_SQL,
    _community,
    _group_args,
    _mode,
    _names,
    _reading_config,
)
from tenants.dual.emergency_access import own_assignments, own_people, readable_emergencies
from tenants.dual.emergency_models import AssignedBy, Emergency, WorkGroupAssignment
from tenants.paging import Page, Window, newest_first
from tenants.scope import current_tenant_id
from tenants.territory.access import Access
from tenants.territory.people import Person


@dataclass
class Member:
    person_id: int
    name: str
    how: AssignedBy
    assigned_at: datetime | None = None
    notified_at: datetime | None = None
    phone: str = ""


@dataclass
class Group:
    code: str
    title: str
    members: list[Member]


@dataclass
class Board:
    """A community's work groups now: the mode, its emergency (if any) and the groups with their members."""

    community_id: int
    mode: str
    emergency: Emergency | None
    groups: list[Group]


# --- reads ------------------------------------------------------------------------------------------------------

async def work_groups(*, access: Access, community_id: int) -> Board:
    """The community's mode and groups with their members: in an emergency the assignments; in normal times the
    rules' placement (not stored, nobody told) with the hand assignments over it. Phones only for the staff of the
    community or its street and tenant admins (whole-tenant readers such as the housing department read none)."""
    row = await _community(access, community_id)
    phones = in_area(access, row.id, row.street_id)  # type: ignore[attr-defined]
    day = await clock.today()
    cfg = await _reading_config(day)
    active, groups = await _mode(row.id, cfg)
    members: dict[str, list[Member]] = {g.code: [] for g in groups}
    if active:
        stored = await WorkGroupAssignment.filter(emergency_id=active.id, removed_at=None).order_by("person_id")
    else:
        stored = await WorkGroupAssignment.filter(community_id=row.id, emergency_id=None).order_by("person_id")
        hand = {a.person_id for a in stored}
        placed = await connections.get("default").execute_query_dict(
            f"SELECT * FROM ({PLACEMENT_SQL}) p", [current_tenant_id(), [row.id], day, *_group_args(groups)])
        stored = [a for a in stored if a.removed_at is None]
        for p in placed:
            if int(p["person_id"]) not in hand and p["grp"] in members:
                members[p["grp"]].append(Member(int(p["person_id"]), "", AssignedBy.RULE))
    people = {int(i): (n, ph) for i, n, ph in await Person.filter(
        id__in=sorted({a.person_id for a in stored} | {m.person_id for ms in members.values() for m in ms}))
        .values_list("id", "name", "phone")}
    for a in stored:
        if a.group_code in members:
            members[a.group_code].append(Member(a.person_id, "", a.how, a.assigned_at, a.notified_at))
    out = []
    for g in groups:
        ms = sorted(members[g.code], key=lambda m: m.person_id)
        for m in ms:
            m.name, phone = people.get(m.person_id, ("", ""))
            m.phone = phone if phones else ""
        out.append(Group(g.code, g.title, ms))
    return Board(row.id, EMERGENCY if active else NORMAL, active, out)


@dataclass
class Mine:
    community_id: int
    mode: str
    group_code: str
    group_title: str
    how: AssignedBy
    notified_at: datetime | None
    emergency_id: int | None


# The communities whose rules could place person $2 (tenant $1, the tenant's day $3): their approved
# registrations', the community they work for, their unit's registered communities.
OWN_COMMUNITIES_SQL = """
SELECT r.community_id FROM dual_member_registration r
WHERE r.tenant_id = $1 AND r.person_id = ANY($2::bigint[]) AND r.status = 'approved'
UNION
SELECT p.target_id FROM post p
WHERE p.tenant_id = $1 AND p.person_id = ANY($2::bigint[]) AND p.target_kind = 'community'
  AND p.kind = 'community_worker' AND p.starts_on <= $3::date
  AND (p.ends_on IS NULL OR p.ends_on > $3::date OR (p.ends_on = $3::date AND p.ended_at IS NULL))
UNION
SELECT u.community_id FROM post p
JOIN dual_unit_registration u ON u.tenant_id = $1 AND u.work_unit_id = p.target_id AND u.status = 'approved'
WHERE p.tenant_id = $1 AND p.person_id = ANY($2::bigint[]) AND p.target_kind = 'work_unit'
  AND p.kind = 'work_unit_contact' AND p.starts_on <= $3::date
  AND (p.ends_on IS NULL OR p.ends_on > $3::date OR (p.ends_on = $3::date AND p.ended_at IS NULL))
"""


async def my_work_groups(*, access: Access) -> list[Mine]:
    """The caller's own groups: in each community's active emergency; in normal times their hand assignment, else
    the group the rules give them (as ``workGroups`` shows it), by community."""
    rows = await own_assignments(access).order_by("community_id", "id")
    emergency_ids = sorted({r.emergency_id for r in rows if r.emergency_id})
    active = set(await Emergency.filter(id__in=emergency_ids, ended_at=None).values_list("id", flat=True))
    day = await clock.today()
    cfg = await _reading_config(day)
    titles = {g.code: g.title for g in (*cfg.work_groups.normal, *cfg.work_groups.emergency)}
    out = [
        Mine(r.community_id, EMERGENCY if r.emergency_id else NORMAL, r.group_code,
             titles.get(r.group_code, r.group_code), r.how, r.notified_at, r.emergency_id)
        for r in rows if r.emergency_id is None or r.emergency_id in active
    ]
    me = list(await own_people(access).values_list("id", flat=True))
    if not me or not cfg.work_groups.normal:
        return out
    conn = connections.get("default")
    tid = current_tenant_id()
    mine = [int(r["community_id"]) for r in await conn.execute_query_dict(OWN_COMMUNITIES_SQL, [tid, me, day])]
    # Not where a hand placement (kept or removed) decides, nor where an emergency is on.
    decided = set(await WorkGroupAssignment.filter(person_id__in=me, emergency_id=None, community_id__in=mine)
                  .values_list("community_id", flat=True))
    busy = set(await Emergency.filter(community_id__in=mine, ended_at=None).values_list("community_id", flat=True))
    todo = sorted(set(mine) - decided - busy)
    if todo:
        placed = await conn.execute_query_dict(
            f"SELECT * FROM ({PLACEMENT_SQL}) p WHERE p.person_id = ANY($10::bigint[])",
            [tid, todo, day, *_group_args(cfg.work_groups.normal), me])
        out += [Mine(int(p["community_id"]), NORMAL, p["grp"], titles.get(p["grp"], p["grp"]), AssignedBy.RULE,
                     None, None) for p in placed]
    return sorted(out, key=lambda m: (m.community_id, m.mode))


async def list_emergencies(*, access: Access, window: Window, community_id: int | None = None,
                           street_id: int | None = None, active: bool | None = None) -> Page[Emergency]:
    """Emergencies in the caller's communities, newest first."""
    qs = readable_emergencies(access)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if street_id is not None:
        qs = qs.filter(street_id=street_id)
    if active is not None:
        qs = qs.filter(ended_at__isnull=active)
    return await newest_first(qs, window, time_field="started_at")


async def emergency_figures(*, access: Access, ids: Sequence[int]) -> dict[int, tuple[str, int, int]]:
    """Per emergency the caller reads: its community's name, the people in its groups now and those of them told.
    Three statements whatever the number of emergencies."""
    rows = await readable_emergencies(access).filter(id__in=list(ids)).values_list("id", "community_id")
    names = await _names({int(c) for _, c in rows})
    counts: dict[int, tuple[int, int]] = {}
    if rows:
        found = await connections.get("default").execute_query_dict(
            "SELECT emergency_id, count(*) AS assigned, count(notified_at) AS notified "
            "FROM dual_work_group_assignment WHERE tenant_id = $1 AND emergency_id = ANY($2::bigint[]) "
            "AND removed_at IS NULL GROUP BY emergency_id", [current_tenant_id(), [int(i) for i, _ in rows]])
        counts = {int(r["emergency_id"]): (int(r["assigned"]), int(r["notified"])) for r in found}
    return {int(i): (names.get(int(c), ""), *counts.get(int(i), (0, 0))) for i, c in rows}
