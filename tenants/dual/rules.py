"""The absence rule (临沭 "双评价": two absences in a row lead to a talk 谈话, a further count to a notice 通报).

Per member, over their sign-ups (signed or assigned, activity not cancelled) in order of ``(starts_at, id)``, up to
their first unresolved one (an activity not closed on which the member is not present: an absence marked while it is
open may still be corrected; a present on an open activity is known and ends a streak): a streak of absences in a
row that reaches exactly ``consecutive_absences_flag`` opens one talk, and one that reaches exactly
``notice_after_absences`` (when set) one notice to the member's work unit. Absent, absent -> one talk; absent,
present, absent -> none, in whatever order the activities closed; a third absence in a row opens no second talk.
A streak is the run of counted absences between two presents; its span runs from just after the previous present
to just before the next one (a present lies in no span).

A run opens cases only in the streaks whose span holds a sign-up it touched (the sign-ups of the activity closed or
cancelled, the corrected sign-up), where the streak's count reaches the threshold in force now, and at most one
live (not withdrawn) talk and one live notice per streak: a threshold change never re-rules a streak no run
touches, and correcting an old sign-up to present opens nothing. A sign-up on an activity whose rules have not run
(closed or cancelled now, ``rules_run_at`` NULL) touches its streak and every later one too: resolving it may let
the absences after it count for the first time. Withdrawal is not bounded so: a live case stays live while its
streak still has at least its stored count of absences; within one streak, among the cases of a kind not
withdrawn, a held talk is kept if there is one, else the earliest, and the other open ones are withdrawn; a case
whose streak no longer reaches its count is withdrawn. A talk held stays, even when the rule raced its outcome (the
withdrawal repeats the live status in its WHERE, so PostgreSQL's recheck after the lock wait skips a talk held
meanwhile).

``apply_member_rules(signups)`` recomputes the members' streaks in one statement (window functions), inserts the
cases ``ON CONFLICT`` on ``(kind, trigger sign-up)`` (a re-run opens nothing; a withdrawn case whose streak holds
again reopens, with the member's registration, community, street and unit of now), withdraws what no longer holds
and writes the withdrawals' audit rows (``dual.absence_case.withdraw``), all in that statement. It first takes
each member's advisory lock, in a statement of its own: two closes at once queue, and the second one's rule, a new
snapshot, sees the first one's absences. ``apply_absence_rules(activity_id)`` runs it for a closed activity's
people and marks the activity's rules run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from tenants import clock
from tenants.audit.service import record
from tenants.config.service import effective_config
from tenants.dual.config import dual_config
from tenants.dual.models import Activity, ActivityStatus
from tenants.errors import Conflict, NotFound
from tenants.inbox.holders import holders_by_target
from tenants.inbox.service import Message, send_all
from tenants.locks import advisory_locks
from tenants.scope import current_tenant_id
from tenants.tenancy.service import current_zone
from tenants.territory.people import Person, PostKind

TALK_KIND = "dual_talk_opened"
NOTICE_KIND = "dual_notice"
LOCK = "dual_member_rules"  # per member: every run of the rule over a member's sign-ups takes it

# $1 tenant, $2 the members, $3 the talk's count, $4 the notice's count (null: none), $5 today, $6 talk_due_days,
# $7 now, $8 the actor, $9 the sign-ups the run touched (the streaks whose span holds one of them may open cases).
RULES_SQL = """
WITH mine AS MATERIALIZED (
    SELECT x.id, x.person_id, x.activity_id, x.starts_at, x.attendance FROM dual_signup x
    WHERE x.tenant_id = $1 AND x.person_id = ANY($2::bigint[]) AND x.status IN ('signed', 'assigned')
), acts AS MATERIALIZED (  -- their activities by primary key (not a scan of every activity of the tenant)
    SELECT id, status FROM dual_activity
    WHERE tenant_id = $1 AND id = ANY(ARRAY(SELECT DISTINCT activity_id FROM mine)) AND status <> 'cancelled'
), counted AS MATERIALIZED (
    SELECT x.id, x.person_id, x.activity_id, x.starts_at, x.attendance,
           bool_or(v.status <> 'closed' AND x.attendance IS DISTINCT FROM 'present')
               OVER (PARTITION BY x.person_id ORDER BY x.starts_at, x.id) AS unresolved
    FROM mine x JOIN acts v ON v.id = x.activity_id
), known AS MATERIALIZED (
    SELECT id, person_id, activity_id, starts_at, attendance,
           count(*) FILTER (WHERE attendance = 'present')
               OVER (PARTITION BY person_id ORDER BY starts_at, id) AS streak
    FROM counted WHERE NOT unresolved AND attendance IS NOT NULL
), absent AS MATERIALIZED (
    SELECT id AS signup_id, person_id, activity_id, starts_at, streak,
           row_number() OVER (PARTITION BY person_id, streak ORDER BY starts_at, id) AS absences,
           count(*) OVER (PARTITION BY person_id, streak) AS length
    FROM known WHERE attendance = 'absent'
), touched AS MATERIALIZED (
    SELECT person_id, onward, lo, present FROM (
        SELECT m.person_id, m.touch, m.onward,
               count(*) FILTER (WHERE m.attendance = 'present')
                   OVER (PARTITION BY m.person_id ORDER BY m.starts_at, m.id, m.touch) AS lo,
               coalesce(bool_or(m.attendance = 'present') OVER (PARTITION BY m.person_id, m.id), false) AS present
        FROM (
            SELECT person_id, starts_at, id, attendance::text AS attendance, false AS touch, NULL::boolean AS onward
            FROM known
            UNION ALL
            SELECT t.person_id, t.starts_at, t.id, NULL, true, v.rules_run_at IS NULL
            FROM dual_signup t JOIN dual_activity v ON v.tenant_id = t.tenant_id AND v.id = t.activity_id
            WHERE t.tenant_id = $1 AND t.id = ANY($9::bigint[]) AND t.person_id = ANY($2::bigint[])
        ) m
    ) z WHERE touch
), allowed AS MATERIALIZED (
    SELECT DISTINCT a.person_id, a.streak FROM absent a JOIN touched t ON t.person_id = a.person_id
    WHERE (t.onward AND a.streak >= t.lo) OR (NOT t.onward AND NOT t.present AND a.streak = t.lo)
), cases AS MATERIALIZED (
    SELECT c.id, c.kind::text AS kind, c.status::text AS status, c.person_id, c.signup_id, a.streak,
           coalesce(u.unresolved, false) AS pending, a.signup_id IS NOT NULL AND a.length >= c.absences AS holds,
           row_number() OVER (PARTITION BY c.person_id, a.streak, c.kind, a.signup_id IS NOT NULL
                                                                          AND a.length >= c.absences
                              ORDER BY c.kind = 'talk' AND c.status = 'done' DESC, a.starts_at, a.signup_id) AS place
    FROM dual_absence_case c
    LEFT JOIN absent a ON a.signup_id = c.signup_id
    LEFT JOIN counted u ON u.id = c.signup_id
    WHERE c.tenant_id = $1 AND c.person_id = ANY($2::bigint[]) AND c.status <> 'withdrawn'
), doomed AS MATERIALIZED (
    SELECT id FROM cases
    WHERE NOT pending AND (NOT holds OR place > 1)
      AND ((kind = 'talk' AND status = 'open') OR (kind = 'notice' AND status = 'done'))
), reached AS MATERIALIZED (
    SELECT a.*, k.kind
    FROM absent a JOIN (VALUES ('talk', $3::int), ('notice', $4::int)) AS k (kind, reach) ON a.absences = k.reach
    JOIN allowed s ON s.person_id = a.person_id AND s.streak = a.streak
    WHERE NOT EXISTS (SELECT 1 FROM cases l WHERE l.kind = k.kind AND l.person_id = a.person_id
                      AND l.streak = a.streak AND l.id NOT IN (SELECT id FROM doomed))
      AND NOT EXISTS (SELECT 1 FROM cases d WHERE d.kind = k.kind AND d.signup_id = a.signup_id)
), withdrawn AS (
    UPDATE dual_absence_case c SET status = 'withdrawn', closed_by = $8, closed_at = $7
    WHERE c.tenant_id = $1 AND c.id IN (SELECT id FROM doomed)
      AND ((c.kind = 'talk' AND c.status = 'open') OR (c.kind = 'notice' AND c.status = 'done'))
    RETURNING c.id, c.kind, c.person_id, c.community_id, c.work_unit_id, c.absences, c.due_on
), audited AS (
    INSERT INTO audit_entry (tenant_id, actor, action, target_type, target_id, details, at)
    SELECT $1, $8, 'dual.absence_case.withdraw', 'dual_' || w.kind, w.id::text,
           jsonb_build_object('person_id', w.person_id, 'absences', w.absences), $7
    FROM withdrawn w ORDER BY w.id
), opened AS (
    INSERT INTO dual_absence_case AS c (tenant_id, kind, person_id, registration_id, community_id, street_id,
        work_unit_id, signup_id, activity_id, absent_at, absences, opened_on, due_on, status, outcome, created_at)
    SELECT $1, t.kind, t.person_id, r.id, r.community_id, r.street_id, r.work_unit_id, t.signup_id, t.activity_id,
           t.starts_at, t.absences, $5::date, CASE WHEN t.kind = 'talk' THEN $5::date + $6::int END,
           CASE WHEN t.kind = 'talk' THEN 'open' ELSE 'done' END, '', $7
    FROM reached t
    JOIN dual_member_registration r ON r.tenant_id = $1 AND r.person_id = t.person_id AND r.status = 'approved'
    ON CONFLICT (tenant_id, kind, signup_id) DO UPDATE
        SET status = EXCLUDED.status, absences = EXCLUDED.absences, opened_on = EXCLUDED.opened_on,
            due_on = EXCLUDED.due_on, reminded_at = NULL, closed_by = NULL, closed_at = NULL,
            registration_id = EXCLUDED.registration_id, community_id = EXCLUDED.community_id,
            street_id = EXCLUDED.street_id, work_unit_id = EXCLUDED.work_unit_id
        WHERE c.status = 'withdrawn'
    RETURNING c.id, c.kind, c.person_id, c.community_id, c.work_unit_id, c.absences, c.due_on
)
SELECT 'opened' AS change, * FROM opened
UNION ALL
SELECT 'withdrawn' AS change, * FROM withdrawn
ORDER BY id
"""

@dataclass(frozen=True)
class Ruled:
    """What a run of the rule changed: talks and notices opened (or reopened), cases withdrawn."""

    talks: int = 0
    notices: int = 0
    withdrawn: int = 0


async def apply_member_rules(
    signups: Sequence[tuple[int, int]], *, now: datetime | None = None, actor: str = "system"
) -> Ruled:
    """Recompute the streaks of the members of ``signups`` (``(person_id, signup_id)``: the sign-ups this run
    touched, of an activity closed or cancelled, or corrected): open the talks and notices the streaks they touch
    reach (telling the communities' workers and the work units' contacts of the new ones) and withdraw the live
    ones whose streak no longer holds or that another case of their streak outranks (audited in the same
    statement), in the caller's transaction."""
    people = sorted({p for p, _ in signups})
    if not people:
        return Ruled()
    at = now or clock.now()
    today = clock.local_day(at, await current_zone())
    config = (await effective_config(today)).document.party.dual_registration
    if not config.enabled:  # 双报到 off: nothing is ruled
        return Ruled()
    conn = connections.get("default")
    await advisory_locks(LOCK, people, conn)  # its own statement: the rule's snapshot starts after the wait
    rows = await conn.execute_query_dict(
        RULES_SQL,
        [current_tenant_id(), people, config.consecutive_absences_flag, config.notice_after_absences, today,
         config.talk_due_days, at, actor, sorted({s for _, s in signups})],
    )
    opened = [r for r in rows if r["change"] == "opened"]
    talks = [r for r in opened if r["kind"] == "talk"]
    notices = [r for r in opened if r["kind"] == "notice"]
    withdrawn = [r for r in rows if r["change"] == "withdrawn"]
    await _tell(talks, notices, today=today, at=at)
    return Ruled(len(talks), len(notices), len(withdrawn))


async def rule_activities(activity_ids: list[int], *, now: datetime | None = None, actor: str = "system") -> Ruled:
    """The rule for the people signed up for or assigned to ``activity_ids`` (closed), then each activity's
    ``rules_run_at``; one run however many activities."""
    at = now or clock.now()
    conn = connections.get("default")
    _, found = await conn.execute_query(
        "SELECT person_id, id FROM dual_signup WHERE tenant_id = $1 AND activity_id = ANY($2::bigint[])"
        " AND status IN ('signed', 'assigned')",
        [current_tenant_id(), activity_ids],
    )
    ruled = await apply_member_rules([(r["person_id"], r["id"]) for r in found], now=at, actor=actor)
    await conn.execute_query(
        "UPDATE dual_activity SET rules_run_at = $3 WHERE tenant_id = $1 AND id = ANY($2::bigint[])",
        [current_tenant_id(), activity_ids, at],
    )
    return ruled


async def apply_absence_rules(
    activity_id: int, *, now: datetime | None = None, actor: str = "system"
) -> dict[str, Any]:
    """The rule for a closed activity's people (its row locked), its ``rules_run_at`` set, in the caller's
    transaction. NOT_FOUND for an unknown activity, CONFLICT for one not closed, NOT_ENABLED when 双报到 is off."""
    await dual_config()
    _, locked = await connections.get("default").execute_query(
        "SELECT status FROM dual_activity WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        [current_tenant_id(), activity_id],
    )
    if not locked:
        raise NotFound("活动不存在", "no such activity", field="activityId")
    if locked[0]["status"] != ActivityStatus.CLOSED:
        raise Conflict("活动尚未结束，不能计算缺勤", "the activity is not closed: absences are not final",
                       field="activityId")
    ruled = await rule_activities([activity_id], now=now, actor=actor)
    if ruled.talks or ruled.notices or ruled.withdrawn:
        await record(actor=actor, action="dual.absence_rules", target_type="activity", target_id=activity_id,
                     details={"talks": ruled.talks, "notices": ruled.notices, "withdrawn": ruled.withdrawn})
    return {"activity": activity_id, "talks": ruled.talks, "notices": ruled.notices, "withdrawn": ruled.withdrawn}


async def _tell(talks: list[dict], notices: list[dict], *, today: Any, at: datetime) -> None:
    """One message per community to its workers about its new talks, one per work unit to its contacts about its
    members' new notices."""
    if not talks and not notices:
        return
    names = dict(
        await Person.filter(id__in=sorted({r["person_id"] for r in talks + notices})).values_list("id", "name")  # type: ignore[arg-type]
    )
    workers = await holders_by_target(PostKind.COMMUNITY_WORKER, "community", {r["community_id"] for r in talks}, today)
    units = {r["work_unit_id"] for r in notices if r["work_unit_id"] is not None}
    contacts = await holders_by_target(PostKind.WORK_UNIT_CONTACT, "work_unit", units, today)
    messages = []
    for community, group in _by(talks, "community_id").items():
        due = min(r["due_on"] for r in group)
        messages.append(Message(
            to=workers.get(community, []), kind=TALK_KIND, title="双报到谈话任务",
            text=f"{len(group)} 名在职党员连续未参加报到社区活动（{_names(group, names)}），请于 {due.isoformat()} 前"
            f"完成谈话并记录结果。 {len(group)} new talks, due by {due.isoformat()}.",
        ))
    for unit, group in _by([r for r in notices if r["work_unit_id"] is not None], "work_unit_id").items():
        messages.append(Message(
            to=contacts.get(unit, []), kind=NOTICE_KIND, title="双报到通报",
            text=f"贵单位在职党员 {_names(group, names)} 连续 {group[0]['absences']} 次未参加报到社区活动，特此通报。"
            f" {len(group)} members of your unit missed community activities {group[0]['absences']} times in a row.",
        ))
    await send_all(messages, at=at)


def _by(rows: list[dict], key: str) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


def _names(rows: list[dict], names: dict, shown: int = 10) -> str:
    listed = "、".join(str(names.get(r["person_id"], r["person_id"])) for r in rows[:shown])
    return listed + (f" 等 {len(rows)} 人" if len(rows) > shown else "")


async def pending_activities(limit: int) -> list[int]:
    """Closed activities whose rules have not run, oldest first (their rows locked; others' runs skip them)."""
    return [
        a.id
        for a in await Activity.filter(status=ActivityStatus.CLOSED, rules_run_at=None)
        .order_by("starts_at", "id")
        .limit(limit)
        .select_for_update(skip_locked=True)
    ]
