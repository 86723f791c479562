"""Talks 谈话 and notices 通报 opened by the absence rule (tenants/dual/rules.py): the lists, a talk's outcome,
and the reminder before a talk is due.

A talk belongs to the member's community: its workers (the party secretary is one) see it and close it with the
outcome and the day it was held. It is due ``talk_due_days`` after it opened (tenant days); its community's workers
are reminded once ``talk_reminder_days`` before; past its day and still open it is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise import connections

from tenants import clock
from tenants.audit.service import record
from tenants.dual.config import dual_config
from tenants.dual.report_access import readable_notices, readable_talks
from tenants.dual.rule_models import AbsenceCase, TalkStatus
from tenants.dual.text import text_problems
from tenants.errors import IllegalTransition, InvalidInput, NotFound, Noun, Problem
from tenants.inbox.holders import holders_by_target
from tenants.inbox.service import Message, send_all
from tenants.paging import Page, Window, newest_first
from tenants.records import rows_by_id
from tenants.scope import current_tenant_id
from tenants.territory.access import Access
from tenants.territory.people import PostKind

REMINDER_KIND = "dual_talk_due"
TALK = Noun("谈话", "talk", {"open": "待谈话", "done": "已谈话", "withdrawn": "已撤销"},
            {"record_outcome": "记录谈话结果"}, field="id", state_key="status")
OUTCOME_LIMIT = 2000


@dataclass(frozen=True)
class Talk:
    """A talk as read: the row, and whether it is past its day and still open (tenant today)."""

    row: AbsenceCase
    overdue: bool


def _overdue(row: AbsenceCase, today: date) -> bool:
    return row.status == TalkStatus.OPEN and row.due_on is not None and row.due_on < today


async def list_talks(
    *, access: Access, window: Window, community_id: int | None = None, status: str | None = None
) -> Page[Talk]:
    """Talks the caller reads, newest first."""
    qs = readable_talks(access)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if status is not None:
        qs = qs.filter(status=status)
    got = await newest_first(qs, window, time_field="created_at")
    today = await clock.today()
    return got.with_rows([Talk(r, _overdue(r, today)) for r in got.rows])


async def talks_by_id(*, access: Access, ids: list[int]) -> dict[int, Talk]:
    """The talks among ``ids`` the caller reads (refetch by id)."""
    rows = await rows_by_id(readable_talks(access), ids)
    today = await clock.today()
    return {i: Talk(r, _overdue(r, today)) for i, r in rows.items()}


async def list_notices(*, access: Access, window: Window, community_id: int | None = None) -> Page[AbsenceCase]:
    """Notices the caller reads, newest first."""
    qs = readable_notices(access)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    return await newest_first(qs, window, time_field="created_at")


async def record_outcome(*, access: Access, actor: str, talk_id: int, outcome: str, held_on: date) -> Talk:
    """Close an open talk with what was said and the day it was held (not in the future, not before it opened)."""
    await dual_config(field="id")
    row = await readable_talks(access).filter(id=talk_id).select_for_update().first()
    if row is None:
        raise NotFound("谈话任务不存在", "no such talk", field="id")
    if row.status != TalkStatus.OPEN:
        raise IllegalTransition(TALK, "record_outcome", row.status.value)
    today = await clock.today()
    problems = text_problems("outcome", outcome, "谈话结果", required=True, limit=OUTCOME_LIMIT)
    if held_on > today or held_on < row.opened_on:
        problems.append(Problem("heldOn", "out_of_range", "谈话日期须在任务开启之后且不晚于今天",
                                "heldOn lies between the day the talk opened and today"))
    if problems:
        raise InvalidInput.of(problems)
    row.status, row.outcome, row.held_on = TalkStatus.DONE, outcome.strip(), held_on
    row.closed_by, row.closed_at = actor, clock.now()
    await row.save(update_fields=["status", "outcome", "held_on", "closed_by", "closed_at"])
    await record(actor=actor, action="dual.talk.record_outcome", target_type="dual_talk", target_id=row.id,
                 details={"held_on": held_on.isoformat(), "person_id": row.person_id})
    return Talk(row, False)


async def remind_due(*, today: date, days: int, at: datetime) -> int:
    """Tell the community's workers once of each open talk due within ``days``; returns how many were reminded."""
    rows = await connections.get("default").execute_query_dict(
        "UPDATE dual_absence_case SET reminded_at = $2 WHERE tenant_id = $1 AND kind = 'talk' AND status = 'open'"
        " AND reminded_at IS NULL AND due_on <= $3 RETURNING id, community_id, person_id, due_on",
        [current_tenant_id(), at, today + timedelta(days=days)],
    )
    if not rows:
        return 0
    workers = await holders_by_target(PostKind.COMMUNITY_WORKER, "community", {r["community_id"] for r in rows}, today)
    await send_all(
        [
            Message(
                to=workers.get(r["community_id"], []),
                kind=REMINDER_KIND,
                title="双报到谈话即将到期",
                text=f"谈话任务 {r['id']} 将于 {r['due_on'].isoformat()} 到期，请及时谈话并记录结果。"
                f" Talk {r['id']} is due on {r['due_on'].isoformat()}.",
            )
            for r in rows
        ],
        at=at,
    )
    return len(rows)
