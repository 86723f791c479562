"""平急结合 emergency mobilisation: a community (or every community of a street) switches to emergency mode
(一键启动), its people are placed in the configured emergency work groups by rule or by hand, each told once, and a
stand-down restores the normal groups.

Placement (``PLACEMENT_SQL``, one statement for every community of a switch): a community worker of the community
goes to the first group; an approved member with a skill a group lists goes to the first such group (config
order), else, holding a building-head post, to the ``building_heads`` group; other members and the contacts of the
units registered at the community go to the ``others`` group (nobody, when no group has ``others``). A person who
is both staff and member is placed as staff (they run the command group). Hand assignments override the rules
and survive them (a removed person stays removed).

Once: the emergency row is unique per community while active (partial unique index, ``ON CONFLICT DO NOTHING``),
so a switch sent twice, or two at once, makes one emergency; assignments are inserted only for the emergencies
this switch made, and a person is told only by the statement that sets their ``notified_at`` from NULL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import Subquery

from tenants import clock
from tenants.audit import service as audit
from tenants.config.document import DualRegistration, WorkGroup
from tenants.config.service import effective_config
from tenants.dual.config import DualNotEnabled, dual_config
from tenants.dual.emergency_access import (
    readable_communities,
)
from tenants.dual.emergency_models import Emergency, WorkGroupAssignment
from tenants.dual.text import text_problems
from tenants.errors import Conflict, InvalidInput, NotFound, Problem
from tenants.inbox.service import Message, send_all
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.territory.access import Access, readable_persons
from tenants.territory.models import Community, Household, Street
from tenants.territory.people import Person

NORMAL = "normal"
EMERGENCY = "emergency"
KIND_START = "dual_emergency_group"  # you are in a group (at the switch, or moved by hand)
KIND_END = "dual_emergency_end"  # the emergency is over
KIND_REMOVED = "dual_emergency_removed"  # taken out of the group one was told of

# Who goes where: candidates by priority (1 staff, 2 skill, 3 building head, 4 member, 5 unit contact), the first
# per community and person wins. Each branch reads by index or primary key, and the candidates are materialised
# before each person is looked up by id: linear whatever the planner estimates (new tables estimate one row).
# $1 tenant, $2 communities, $3 the tenant's day, $4/$5/$6 skill codes, their groups and ranks (config order),
# $7 the first group, $8 the building-heads group, $9 the others group.
PLACEMENT_SQL = """
WITH candidates AS MATERIALIZED (
    SELECT p.target_id AS community_id, p.person_id, $7::text AS grp, 1 AS prio FROM post p
    WHERE p.tenant_id = $1 AND p.target_kind = 'community' AND p.target_id = ANY($2::bigint[])
      AND p.kind = 'community_worker' AND p.starts_on <= $3::date
      AND (p.ends_on IS NULL OR p.ends_on > $3::date OR (p.ends_on = $3::date AND p.ended_at IS NULL))
    UNION ALL
    SELECT r.community_id, r.person_id, s.grp, 2 FROM dual_member_registration r
    CROSS JOIN LATERAL (
        SELECT s.grp FROM unnest($4::text[], $5::text[], $6::int[]) AS s(skill, grp, rank)
        WHERE r.skills ? s.skill ORDER BY s.rank LIMIT 1
    ) s
    WHERE r.tenant_id = $1 AND r.community_id = ANY($2::bigint[]) AND r.status = 'approved'
    UNION ALL
    SELECT mp.community_id, mp.person_id, $8::text, 3 FROM dual_member_post mp
    CROSS JOIN LATERAL (
        SELECT 1 FROM dual_member_registration r WHERE r.tenant_id = $1 AND r.person_id = mp.person_id
                                                   AND r.id = mp.registration_id AND r.status = 'approved'
                                                   AND r.community_id = mp.community_id LIMIT 1
    ) AS approved
    WHERE $8::text IS NOT NULL AND mp.tenant_id = $1 AND mp.community_id = ANY($2::bigint[])
      AND mp.kind IN ('online_building_head', 'offline_building_head') AND mp.starts_on <= $3::date
      AND (mp.ends_on IS NULL OR mp.ends_on >= $3::date)
    UNION ALL
    SELECT r.community_id, r.person_id, $9::text, 4 FROM dual_member_registration r
    WHERE $9::text IS NOT NULL AND r.tenant_id = $1 AND r.community_id = ANY($2::bigint[]) AND r.status = 'approved'
    UNION ALL
    SELECT u.community_id, p.person_id, $9::text, 5 FROM dual_unit_registration u
    JOIN post p ON p.tenant_id = $1 AND p.target_kind = 'work_unit' AND p.target_id = u.work_unit_id
               AND p.kind = 'work_unit_contact' AND p.starts_on <= $3::date
               AND (p.ends_on IS NULL OR p.ends_on > $3::date OR (p.ends_on = $3::date AND p.ended_at IS NULL))
    WHERE $9::text IS NOT NULL AND u.tenant_id = $1 AND u.community_id = ANY($2::bigint[]) AND u.status = 'approved'
)
SELECT DISTINCT ON (c.community_id, c.person_id) c.community_id, c.person_id, c.grp
FROM candidates c
CROSS JOIN LATERAL (
    SELECT 1 FROM person pe WHERE pe.tenant_id = $1 AND pe.id = c.person_id AND pe.deactivated_at IS NULL LIMIT 1
) AS active
ORDER BY c.community_id, c.person_id, c.prio
"""

START_SQL = """
INSERT INTO dual_emergency (tenant_id, community_id, street_id, reason, groups, started_at, started_by, end_reason)
SELECT $1, c.id, c.street_id, $3, $4::jsonb, $5, $6, '' FROM community c
WHERE c.tenant_id = $1 AND c.id = ANY($2::bigint[]) AND c.is_active
ON CONFLICT (tenant_id, community_id) WHERE ended_at IS NULL DO NOTHING
RETURNING id, community_id
"""

# Rule placements for the emergencies just made (the placement's rows joined to them by community).
ASSIGN_SQL = f"""
WITH placed AS ({PLACEMENT_SQL})
INSERT INTO dual_work_group_assignment (tenant_id, community_id, emergency_id, person_id, group_code, how,
                                        assigned_at, assigned_by)
SELECT $1, p.community_id, e.id, p.person_id, p.grp, 'rule', $10, $11
FROM placed p JOIN unnest($12::bigint[], $2::bigint[]) AS e(id, community_id) ON e.community_id = p.community_id
ON CONFLICT (tenant_id, emergency_id, person_id) WHERE emergency_id IS NOT NULL DO NOTHING
"""

# Tell whoever has not been told of their current group; the row lock makes a concurrent second teller wait and
# then find notified_at set.
NOTIFY_SQL = """
UPDATE dual_work_group_assignment a SET notified_at = $3
FROM person pe
WHERE a.tenant_id = $1 AND a.id = ANY($2::bigint[]) AND a.notified_at IS NULL AND a.removed_at IS NULL
  AND pe.tenant_id = $1 AND pe.id = a.person_id
RETURNING a.id, a.community_id, a.group_code, pe.user_id
"""

END_SQL = """
UPDATE dual_emergency SET ended_at = $3, ended_by = $4, end_reason = $5
WHERE tenant_id = $1 AND community_id = ANY($2::bigint[]) AND ended_at IS NULL
RETURNING id, community_id
"""


@dataclass
class Switch:
    """What a switch or a stand-down did: the emergencies it made (or ended), people placed and told."""

    emergencies: list[Emergency]
    already: list[int] = field(default_factory=list)  # communities already in (or not in) emergency mode
    assigned: int = 0
    notified: int = 0


# --- configuration and input -------------------------------------------------------------------------------------

def _group_args(groups: Sequence[WorkGroup]) -> list[Any]:
    """$4..$9 of ``PLACEMENT_SQL`` for a set of groups."""
    skills: list[str] = []
    owners: list[str] = []
    ranks: list[int] = []
    for g in groups:
        for s in g.skills:
            skills.append(s)
            owners.append(g.code)
            ranks.append(len(ranks))
    heads = next((g.code for g in groups if g.building_heads), None)
    others = next((g.code for g in groups if g.others), None)
    return [skills, owners, ranks, groups[0].code, heads, others]


async def _reading_config(day: date) -> DualRegistration:
    """The section as recorded (reads stay possible when the tenant switched 双报到 off)."""
    return (await effective_config(day)).document.party.dual_registration


def _reason(value: str, name: str = "reason") -> str:
    if problems := text_problems(name, value or "", "原因", required=True, limit=500):
        raise InvalidInput.of(problems)
    return value.strip()


async def _targets(access: Access, permission: str, community_id: int | None,
                   street_id: int | None) -> tuple[list[int], str, int]:
    """The communities a switch or stand-down covers (one, or the active ones of a street), checked against the
    caller's posts; with the audit target (community or street and its id)."""
    if (community_id is None) == (street_id is None):
        raise InvalidInput.of([Problem("communityId", "one_of", "请指定一个社区或一个街道（二选一）",
                                       "give exactly one of communityId and streetId")])
    if community_id is not None:
        row = await Community.filter(id=community_id).first()
        if row is None:
            raise NotFound("社区不存在", "no such community", field="communityId")
        require(access, permission, ("street", row.street_id), field="communityId")
        if not row.is_active:
            raise Conflict("社区已停用", "the community is inactive", field="communityId")
        return [row.id], "community", row.id
    street = await Street.filter(id=street_id).first()
    if street is None:
        raise NotFound("街道不存在", "no such street", field="streetId")
    require(access, permission, ("street", street.id), field="streetId")
    ids = await Community.filter(street_id=street.id, is_active=True).order_by("id").values_list("id", flat=True)
    return list(ids), "street", street.id  # type: ignore[arg-type]


async def _names(community_ids: Iterable[int]) -> dict[int, str]:
    rows = await Community.filter(id__in=list(community_ids)).values_list("id", "name")
    return {int(i): n for i, n in rows}


async def _tell(ids: Sequence[int], groups: dict[str, str], at: datetime) -> int:
    """Tell each assignment's person (not yet told) of their group: one UPDATE, one inbox insert."""
    if not ids:
        return 0
    conn = connections.get("default")
    rows = await conn.execute_query_dict(NOTIFY_SQL, [current_tenant_id(), list(ids), at])
    names = await _names({int(r["community_id"]) for r in rows})
    messages = []
    for r in rows:
        place, group = names.get(int(r["community_id"]), ""), groups.get(r["group_code"], r["group_code"])
        messages.append(Message([r["user_id"]], KIND_START, f"应急动员：{place}",
                                f"{place}已启动应急状态，您被编入“{group}”，请按社区安排立即到岗。", None))
    await send_all(messages, at=at)
    return len(rows)


# --- the switch and the stand-down -------------------------------------------------------------------------------

async def start(*, access: Access, actor: str, reason: str, community_id: int | None = None,
                street_id: int | None = None, now: datetime | None = None) -> Switch:
    """Switch a community, or every community of a street, to emergency mode and mobilise its people."""
    require(access, "dual.emergency.manage")
    at = now or clock.now()
    why = _reason(reason)
    async with savepoint() as conn:
        day = await clock.today(at)
        cfg = await dual_config(day, field="communityId")
        communities, target, target_id = await _targets(access, "dual.emergency.manage", community_id, street_id)
        groups = cfg.work_groups.emergency
        snapshot = json.dumps([{"code": g.code, "title": g.title} for g in groups], ensure_ascii=False)
        tid = current_tenant_id()
        made = await conn.execute_query_dict(START_SQL, [tid, communities, why, snapshot, at, actor])
        eids = [int(r["id"]) for r in made]
        cids = [int(r["community_id"]) for r in made]
        assigned = notified = 0
        if eids:
            await conn.execute_query(
                ASSIGN_SQL, [tid, cids, day, *_group_args(groups), at, actor, eids]
            )
            ids = await WorkGroupAssignment.filter(emergency_id__in=eids).values_list("id", flat=True)
            assigned = len(ids)
            notified = await _tell(list(ids), {g.code: g.title for g in groups}, at)  # type: ignore[arg-type]
        emergencies = await Emergency.filter(id__in=eids).order_by("community_id")
        already = sorted(set(communities) - set(cids))
        await audit.record(actor=actor, action="dual.emergency.start", target_type=target, target_id=target_id,
                           details={"reason": why, "emergencies": eids, "communities": cids, "already": already,
                                    "assigned": assigned, "notified": notified})
    return Switch(emergencies, already, assigned, notified)


async def stand_down(*, access: Access, actor: str, reason: str, community_id: int | None = None,
                     street_id: int | None = None, now: datetime | None = None) -> Switch:
    """End the emergency of a community (or of every community of a street): the normal groups are back, and the
    people assigned are told once that it is over."""
    require(access, "dual.emergency.manage")
    at = now or clock.now()
    why = _reason(reason)
    async with savepoint() as conn:
        communities, target, target_id = await _targets(access, "dual.emergency.manage", community_id, street_id)
        ended = await conn.execute_query_dict(END_SQL, [current_tenant_id(), communities, at, actor, why])
        eids = [int(r["id"]) for r in ended]
        if community_id is not None and not eids:
            raise Conflict("该社区未处于应急状态", "the community is not in emergency mode", field="communityId")
        told = await WorkGroupAssignment.filter(emergency_id__in=eids, removed_at=None).values_list(
            "community_id", "person_id")
        people = dict(await Person.filter(id__in=sorted({p for _, p in told})).values_list("id", "user_id"))
        names = await _names([int(r["community_id"]) for r in ended])
        await send_all([
            Message([people[p]], KIND_END, f"应急状态解除：{names.get(c, '')}",
                    f"{names.get(c, '')}已解除应急状态（{why}），恢复常态工作分组。感谢您的付出！", None)
            for c, p in told if p in people
        ], at=at)
        already = sorted(set(communities) - {int(r["community_id"]) for r in ended})
        await audit.record(actor=actor, action="dual.emergency.stand_down", target_type=target, target_id=target_id,
                           details={"reason": why, "emergencies": eids, "already": already, "told": len(told)})
        emergencies = await Emergency.filter(id__in=eids).order_by("community_id")
    return Switch(emergencies, already, len(told), len(told))


# --- by hand ---------------------------------------------------------------------------------------------------

UPSERT_SQL = """
INSERT INTO dual_work_group_assignment AS a (tenant_id, community_id, emergency_id, person_id, group_code, how,
                                             assigned_at, assigned_by)
VALUES ($1, $2, $3, $4, $5, 'hand', $6, $7)
ON CONFLICT {target} DO UPDATE SET
    group_code = EXCLUDED.group_code, how = 'hand', assigned_at = EXCLUDED.assigned_at,
    assigned_by = EXCLUDED.assigned_by, removed_at = NULL, removed_by = NULL,
    notified_at = CASE WHEN a.group_code = EXCLUDED.group_code AND a.removed_at IS NULL THEN a.notified_at END
RETURNING a.id
"""
IN_EMERGENCY = "(tenant_id, emergency_id, person_id) WHERE emergency_id IS NOT NULL"
IN_NORMAL = "(tenant_id, community_id, person_id) WHERE emergency_id IS NULL"


# Whom the rules could place at community $2 (whatever the groups configured): a community worker of it, an
# approved member registered there, a contact of a unit registered there. $1 tenant, $3 the tenant's day, $4 person.
RULE_PERSON_SQL = """
SELECT EXISTS (
    SELECT 1 FROM post p WHERE p.tenant_id = $1 AND p.person_id = $4 AND p.target_kind = 'community'
      AND p.target_id = $2 AND p.kind = 'community_worker' AND p.starts_on <= $3::date
      AND (p.ends_on IS NULL OR p.ends_on > $3::date OR (p.ends_on = $3::date AND p.ended_at IS NULL))
) OR EXISTS (
    SELECT 1 FROM dual_member_registration r WHERE r.tenant_id = $1 AND r.person_id = $4 AND r.community_id = $2
      AND r.status = 'approved'
) OR EXISTS (
    SELECT 1 FROM post p JOIN dual_unit_registration u
      ON u.tenant_id = $1 AND u.work_unit_id = p.target_id AND u.community_id = $2 AND u.status = 'approved'
    WHERE p.tenant_id = $1 AND p.person_id = $4 AND p.target_kind = 'work_unit' AND p.kind = 'work_unit_contact'
      AND p.starts_on <= $3::date
      AND (p.ends_on IS NULL OR p.ends_on > $3::date OR (p.ends_on = $3::date AND p.ended_at IS NULL))
) AS ok
"""


async def _placeable(access: Access, community: Community, person_id: int, day: date) -> Person:
    """A person hand placement may put in the community's groups: one the rules could place there, or a resident
    of the community the caller reads; anyone else (another street's member or staff, an unknown id) is NOT_FOUND,
    so ids cannot be probed."""
    person = await Person.filter(id=person_id, deactivated_at=None).first()
    if person is not None:
        rows = await connections.get("default").execute_query_dict(
            RULE_PERSON_SQL, [current_tenant_id(), community.id, day, person.id])
        if rows[0]["ok"]:
            return person
        homes = Household.filter(community_id=community.id).values("id")
        if await readable_persons(access).filter(id=person.id, household_id__in=Subquery(homes)).exists():
            return person
    raise NotFound("本社区没有该人员", "no such person in the community", field="personId")


async def _active_locked(community_id: int) -> Emergency | None:
    """The community's active emergency, its row locked: a stand-down's UPDATE waits for this transaction (and a
    placement after a stand-down finds none), so nobody lands in an emergency that has ended."""
    return await Emergency.filter(community_id=community_id, ended_at=None).select_for_update().first()


async def _community(access: Access, community_id: int) -> Community:
    """A community the caller staffs (NOT_FOUND outside their area) with its active emergency."""
    row = await readable_communities(access).filter(id=community_id).first()
    if row is None:
        raise NotFound("社区不存在", "no such community", field="communityId")
    return row


async def _mode(community_id: int, cfg: DualRegistration) -> tuple[Emergency | None, list[WorkGroup]]:
    active = await Emergency.filter(community_id=community_id, ended_at=None).first()
    return active, (cfg.work_groups.emergency if active else cfg.work_groups.normal)


async def assign(*, access: Access, actor: str, community_id: int, person_id: int, group: str,
                 now: datetime | None = None) -> WorkGroupAssignment:
    """Put a person in a group of the community's current mode by hand (overrides the rules); told when their
    group changes."""
    require(access, "dual.emergency.assign")
    at = now or clock.now()
    async with savepoint() as conn:
        row = await _community(access, community_id)
        require(access, "dual.emergency.assign", [("community", row.id), ("street", row.street_id)],
                field="communityId")
        day = await clock.today(at)
        cfg = await dual_config(day, field="communityId")
        person = await _placeable(access, row, person_id, day)
        active = await _active_locked(row.id)
        groups = cfg.work_groups.emergency if active else cfg.work_groups.normal
        titles = {g.code: g.title for g in groups}
        if group not in titles:
            raise InvalidInput.of([Problem("group", "unknown", "当前模式下没有该工作组",
                                           f"no such work group in {EMERGENCY if active else NORMAL} mode")])
        sql = UPSERT_SQL.format(target=IN_EMERGENCY if active else IN_NORMAL)
        rows = await conn.execute_query_dict(sql, [current_tenant_id(), row.id, active.id if active else None,
                                                   person.id, group, at, actor])
        aid = int(rows[0]["id"])
        told = await _tell([aid], titles, at) if active else 0
        await audit.record(actor=actor, action="dual.emergency.assign", target_type="work_group_assignment",
                           target_id=aid, details={"community": row.id, "person": person.id, "group": group,
                                                   "mode": EMERGENCY if active else NORMAL, "told": told})
        return await WorkGroupAssignment.get(id=aid)


async def remove(*, access: Access, actor: str, community_id: int, person_id: int,
                 now: datetime | None = None) -> WorkGroupAssignment:
    """Take a person out of their group in the community's current mode (the rules do not put them back); one who
    was told of the group is told once that they are out of it."""
    require(access, "dual.emergency.assign")
    at = now or clock.now()
    async with savepoint():
        row = await _community(access, community_id)
        require(access, "dual.emergency.assign", [("community", row.id), ("street", row.street_id)],
                field="communityId")
        active = await _active_locked(row.id)
        qs = WorkGroupAssignment.filter(community_id=row.id, person_id=person_id, removed_at=None)
        qs = qs.filter(emergency_id=active.id) if active else qs.filter(emergency_id=None)
        found = await qs.select_for_update().first()
        if found is None:
            raise NotFound("该人员不在本社区的工作组中", "the person is in no work group of the community",
                           field="personId")
        found.removed_at = at
        found.removed_by = actor
        await found.save(update_fields=["removed_at", "removed_by"])
        told = found.notified_at is not None
        if told:
            person = await Person.get(id=found.person_id)
            title = next((g["title"] for g in (active.groups if active else []) if g["code"] == found.group_code),
                         found.group_code)
            place = (await _names([row.id])).get(row.id, "")
            await send_all([Message([person.user_id], KIND_REMOVED, f"应急分组调整：{place}",
                                    f"您已不在{place}的“{title}”，无需再按该组安排到岗。", None)], at=at)
        await audit.record(actor=actor, action="dual.emergency.remove", target_type="work_group_assignment",
                           target_id=found.id, details={"community": row.id, "person": person_id,
                                                        "group": found.group_code, "told": told})
        return found


__all__ = ["DualNotEnabled", "assign", "remove", "stand_down", "start"]
