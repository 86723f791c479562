"""The absence rule (临沭 "双评价": two absences in a row lead to a talk 谈话, a further count to a notice 通报).

Per member, over their sign-ups (signed or assigned, activity closed, attendance set) in order of
``(starts_at, id)``: a streak of absences in a row that reaches exactly ``consecutive_absences_flag`` opens one talk,
and one that reaches exactly ``notice_after_absences`` (when set) one notice to the member's work unit; a present
ends the streak. Absent, absent -> one talk; absent, present, absent -> none; a third absence in a row opens no
second talk.

``apply_absence_rules(activity_id)`` looks at the streak each absentee of a closed activity completes there: one
statement reads, for each absent member, their last ``max(thresholds) + 1`` counted sign-ups up to this one
(an index range on ``(tenant_id, person_id, starts_at)``, ranked by a window function), measures the streak and
inserts the cases ``ON CONFLICT DO NOTHING`` on ``(kind, trigger sign-up)``; the same statement sets the
activity's ``rules_run_at``. Running it again opens and sends nothing (only inserted rows are told).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections

from tenants import clock
from tenants.audit.service import record
from tenants.dual.config import dual_config
from tenants.dual.models import Activity, ActivityStatus
from tenants.errors import Conflict, NotFound
from tenants.inbox.holders import holders_by_target
from tenants.inbox.service import Message, send_all
from tenants.scope import current_tenant_id
from tenants.tenancy.service import current_zone
from tenants.territory.people import Person, PostKind

TALK_KIND = "dual_talk_opened"
NOTICE_KIND = "dual_notice"

RULES_SQL = """
WITH absent AS (
    SELECT s.id AS signup_id, s.person_id, s.starts_at, r.id AS registration_id, r.community_id, r.street_id,
           r.work_unit_id
    FROM dual_signup s
    JOIN dual_member_registration r ON r.tenant_id = s.tenant_id AND r.person_id = s.person_id
         AND r.status = 'approved'
    WHERE s.tenant_id = $1 AND s.activity_id = $2 AND s.status IN ('signed', 'assigned') AND s.attendance = 'absent'
), streak AS (
    SELECT a.*, h.absences
    FROM absent a
    CROSS JOIN LATERAL (
        SELECT COALESCE(MIN(rn) FILTER (WHERE attendance = 'present') - 1, COUNT(*)) AS absences
        FROM (
            SELECT x.attendance, row_number() OVER (ORDER BY x.starts_at DESC, x.id DESC) AS rn
            FROM dual_signup x
            WHERE x.tenant_id = $1 AND x.person_id = a.person_id AND x.status IN ('signed', 'assigned')
              AND x.attendance IS NOT NULL AND (x.starts_at, x.id) <= (a.starts_at, a.signup_id)
              AND EXISTS (SELECT 1 FROM dual_activity v WHERE v.id = x.activity_id AND v.status = 'closed')
            ORDER BY x.starts_at DESC, x.id DESC
            LIMIT $3
        ) last
    ) h
), opened AS (
    INSERT INTO dual_absence_case (tenant_id, kind, person_id, registration_id, community_id, street_id,
        work_unit_id, signup_id, activity_id, absent_at, absences, opened_on, due_on, status, outcome, created_at)
    SELECT $1, k.kind, s.person_id, s.registration_id, s.community_id, s.street_id, s.work_unit_id, s.signup_id,
           $2, s.starts_at, s.absences, $6::date,
           CASE WHEN k.kind = 'talk' THEN $6::date + $7::int END,
           CASE WHEN k.kind = 'talk' THEN 'open' ELSE 'done' END, '', $8
    FROM streak s
    JOIN (VALUES ('talk', $4::int), ('notice', $5::int)) AS k (kind, reach) ON s.absences = k.reach
    ON CONFLICT (tenant_id, kind, signup_id) DO NOTHING
    RETURNING id, kind, person_id, community_id, work_unit_id, absences, due_on
), ran AS (
    UPDATE dual_activity SET rules_run_at = $8 WHERE tenant_id = $1 AND id = $2
)
SELECT * FROM opened ORDER BY id
"""


async def apply_absence_rules(
    activity_id: int, *, now: datetime | None = None, actor: str = "system"
) -> dict[str, Any]:
    """Open the talks and notices the absentees of a closed activity complete, tell the communities' workers and
    the work units' contacts of the new ones, and mark the activity's rules run, in the caller's transaction (the
    activity's row locked). NOT_FOUND for an unknown activity, CONFLICT for one not closed."""
    at = now or clock.now()
    today = clock.local_day(at, await current_zone())
    config = await dual_config(today)
    conn = connections.get("default")
    _, locked = await conn.execute_query(
        "SELECT status FROM dual_activity WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        [current_tenant_id(), activity_id],
    )
    if not locked:
        raise NotFound("活动不存在", "no such activity", field="activityId")
    if locked[0]["status"] != ActivityStatus.CLOSED:
        raise Conflict("活动尚未结束，不能计算缺勤", "the activity is not closed: absences are not final",
                       field="activityId")
    notice = config.notice_after_absences
    reach = max(config.consecutive_absences_flag, notice or 0)
    rows = await conn.execute_query_dict(
        RULES_SQL,
        [current_tenant_id(), activity_id, reach + 1, config.consecutive_absences_flag, notice, today,
         config.talk_due_days, at],
    )
    talks = [r for r in rows if r["kind"] == "talk"]
    notices = [r for r in rows if r["kind"] == "notice"]
    await _tell(talks, notices, today=today, at=at)
    if rows:
        await record(actor=actor, action="dual.absence_rules", target_type="activity", target_id=activity_id,
                     details={"talks": len(talks), "notices": len(notices)})
    return {"activity": activity_id, "talks": len(talks), "notices": len(notices)}


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
