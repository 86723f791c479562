"""怎么配合干: partner units' co-handling tasks on a ticket — opened at dispatch, accepted and completed by the
partner, escalated once when not accepted in time (by the reminder tick)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenants import inbox
from tenants.clock import now as clock_now
from tenants.errors import IllegalTransition, InvalidInput, NotFound, text_problems
from tenants.inbox.holders import unit_staff
from tenants.scope import current_tenant_id, savepoint, scoped_transaction
from tenants.territory.access import Access
from tenants.tickets import matrix, messages
from tenants.tickets.access import acts_for, readable, require
from tenants.tickets.errors import TICKET
from tenants.tickets.models import (
    OPEN_STATES,
    Escalation,
    PartnerTask,
    PartnerTaskState,
    Ticket,
    TicketEvent,
)
from tenants.tickets.rules import period_of

log = logging.getLogger(__name__)
P = PartnerTaskState
DEFAULT_ACCEPT_HOURS = 24  # tickets opened before partner tasks existed carry no partner_accept_hours
AUTO_REASON = "协办单位超时未受理，系统自动提级督办"
BATCH = 1000
MAX_NOTE = 500
_OPEN = "(" + ", ".join(f"'{s.value}'" for s in OPEN_STATES) + ")"

# Claims, once per task, the pending tasks past their acceptance deadline on open tickets (partial index
# ticket_partner_task_pending); a concurrent tick re-checks ``escalated_at IS NULL`` on the locked row and skips.
OVERDUE_SQL = f"""
UPDATE ticket_partner_task p SET escalated_at = $2::timestamptz
FROM ticket t
WHERE p.id IN (
        SELECT id FROM ticket_partner_task
        WHERE tenant_id = $1::bigint AND state = 'pending' AND escalated_at IS NULL AND accept_due_at < $2::timestamptz
        ORDER BY accept_due_at, id LIMIT {BATCH})
  AND p.escalated_at IS NULL AND p.state = 'pending'
  AND t.tenant_id = p.tenant_id AND t.id = p.ticket_id AND t.state IN {_OPEN}
RETURNING p.id
"""


def _note(note: str, *, required: bool) -> str:
    if problems := text_problems("note", note, "说明", required=required, limit=MAX_NOTE):
        raise InvalidInput.of(problems)
    return note.strip()


async def _event(ticket: Ticket, task: PartnerTask, at: datetime, actor: str, action: str, note: str = "") -> None:
    await TicketEvent.create(
        ticket_id=ticket.id, at=at, actor=actor, action=action, from_state=ticket.state, to_state=ticket.state,
        note=note, details={"taskId": task.id, "unit": task.unit_kind.value, "unitId": task.unit_id},
    )


async def open_tasks(ticket: Ticket, at: datetime) -> list[PartnerTask]:
    """At the first dispatch, a task for each partner the matrix names that is found for the ticket's place."""
    if await PartnerTask.filter(ticket_id=ticket.id).exists():
        return []
    hours = int(ticket.rules.get("partner_accept_hours", DEFAULT_ACCEPT_HOURS))
    due = ticket.sla_due_at or at + timedelta(hours=ticket.rules["item"]["sla_hours"])
    tasks = []
    item = messages.item_title(ticket)
    for kind, unit_id in await matrix.partner_units(ticket, at):
        task = await PartnerTask.create(
            ticket_id=ticket.id, unit_kind=kind, unit_id=unit_id, accept_due_at=at + timedelta(hours=hours),
            due_at=due, created_at=at,
        )
        await _event(ticket, task, at, "system", "partner_assign")
        await inbox.send(
            to=await unit_staff(kind, unit_id, at), kind="ticket.partner_assigned", title="新的协办任务",
            text=f"工单 {ticket.id}“{item}”需贵单位配合办理，请在 {hours} 小时内受理。", ticket_id=ticket.id, at=at,
        )
        tasks.append(task)
    return tasks


async def _for_update(access: Access, task_id: int) -> tuple[PartnerTask, Ticket]:
    """The task, locked, if its ticket is in the caller's scope."""
    task = await PartnerTask.filter(id=task_id).select_for_update().first()
    ticket = None
    if task is not None:
        ticket = await readable(access).filter(id=task.ticket_id).first()
    if task is None or ticket is None:
        raise NotFound(f"协办任务 {task_id} 不存在", f"partner task {task_id} does not exist", field="taskId")
    return task, ticket


async def _step(access: Access, task_id: int, verb: str, expected: PartnerTaskState) -> tuple[PartnerTask, Ticket]:
    """The task and its ticket, the task locked, when the caller acts for the task's unit, the ticket is open and
    the task is in ``expected``: the checks before a partner unit ``verb``s (accept, complete) its task."""
    task, ticket = await _for_update(access, task_id)
    require(acts_for(access, task.unit_kind, task.unit_id), f"{verb} this partner task")
    if ticket.state not in OPEN_STATES:
        raise IllegalTransition(TICKET, f"{verb}_partner_task", ticket.state.value)
    if task.state != expected:
        raise IllegalTransition(TICKET, f"{verb}_partner_task", task.state.value)
    return task, ticket


async def accept(
    *, access: Access, actor: str, task_id: int, note: str = "", now: datetime | None = None
) -> PartnerTask:
    """The partner unit accepts its co-handling task."""
    at = now or clock_now()
    note = _note(note, required=False)
    async with savepoint():
        task, ticket = await _step(access, task_id, "accept", P.PENDING)
        task.state, task.accepted_at, task.accepted_by = P.ACCEPTED, at, actor
        await task.save()
        await _event(ticket, task, at, actor, "partner_accept", note)
        return task


async def complete(*, access: Access, actor: str, task_id: int, note: str, now: datetime | None = None) -> PartnerTask:
    """The partner unit reports its part done; the acting unit is told."""
    at = now or clock_now()
    note = _note(note, required=True)
    async with savepoint():
        task, ticket = await _step(access, task_id, "complete", P.ACCEPTED)
        task.state, task.completed_at, task.completed_by, task.note = P.COMPLETED, at, actor, note
        await task.save()
        await _event(ticket, task, at, actor, "partner_complete", note)
        await inbox.send(
            to=await unit_staff(ticket.assignee_kind, ticket.assignee_id, at), kind="ticket.partner_completed",
            title="协办单位已完成配合",
            text=f"工单 {ticket.id}“{messages.item_title(ticket)}”的协办单位已完成配合：{note}",
            ticket_id=ticket.id, at=at,
        )
        return task


@dataclass
class _Planned:
    task: PartnerTask
    escalation: Escalation
    event: TicketEvent
    message: inbox.Message


async def escalate_overdue(*, now: datetime, zone: ZoneInfo) -> int:
    """提级督办 of partner tasks not accepted in time, once per task: the partner unit collects an escalation
    (it counts towards the efficiency office like any other); the ticket itself stays on its rung.

    Set-based: one claim, staff read once per unit, then one insert each for escalations, events and messages. A
    task that fails is logged and its claim released (the next tick retries it); it never rolls back the others
    or stops the tick."""
    async with scoped_transaction() as conn:
        rows = await conn.execute_query_dict(OVERDUE_SQL, [current_tenant_id(), now])
        if not rows:
            return 0
        tasks = await PartnerTask.filter(id__in=[r["id"] for r in rows]).order_by("id")
        tickets = {t.id: t for t in await Ticket.filter(id__in=[t.ticket_id for t in tasks])}
        planned, failed = await _plan(tasks, tickets, now, period_of(now, zone))
        try:
            async with savepoint():
                await _write(planned, now)
        except Exception:  # one bad row spoils a bulk insert: each task on its own, so only the bad ones fail
            log.exception("partner escalations in bulk failed; retrying task by task")
            kept = []
            for p in planned:
                try:
                    async with savepoint():
                        await _write([p], now)
                    kept.append(p)
                except Exception:
                    log.exception("automatic escalation of partner task %s failed", p.task.id)
                    failed.append(p.task.id)
            planned = kept
        if failed:
            await PartnerTask.filter(id__in=failed).update(escalated_at=None)
    return len(planned)


async def _plan(
    tasks: list[PartnerTask], tickets: dict[int, Ticket], now: datetime, period: str
) -> tuple[list[_Planned], list[int]]:
    staff: dict[tuple[str, int | None], list[str]] = {}  # unit (or a ticket's reviewers) -> staff, read once

    async def of(key: tuple[str, int | None], read: Any) -> list[str]:
        if key not in staff:
            staff[key] = await read()
        return staff[key]

    planned, failed = [], []
    for task in tasks:
        try:
            ticket = tickets[task.ticket_id]
            escalation = Escalation(
                ticket_id=ticket.id, from_level=ticket.escalation_level, to_level=ticket.escalation_level,
                unit_kind=task.unit_kind, unit_id=task.unit_id, automatic=True, reason=AUTO_REASON, period=period,
                at=now,
            )
            event = TicketEvent(
                ticket_id=ticket.id, at=now, actor="system", action="partner_escalate", from_state=ticket.state,
                to_state=ticket.state, note=AUTO_REASON,
                details={"taskId": task.id, "unit": task.unit_kind.value, "unitId": task.unit_id},
            )
            recipients = await of((task.unit_kind.value, task.unit_id),
                                  lambda t=task: unit_staff(t.unit_kind, t.unit_id, now))
            recipients = recipients + await of(("review", ticket.community_id or ticket.street_id),
                                               lambda t=ticket: messages.reviewer_staff(t, now))
            message = inbox.Message(
                recipients, "ticket.partner_escalated", "协办任务已提级督办",
                f"工单 {ticket.id}“{messages.item_title(ticket)}”的协办任务超时未受理，已提级督办（{period}）。",
                ticket.id,
            )
            planned.append(_Planned(task, escalation, event, message))
        except Exception:
            log.exception("automatic escalation of partner task %s failed", task.id)
            failed.append(task.id)
    return planned, failed


async def _write(planned: list[_Planned], now: datetime) -> None:
    if not planned:
        return
    await Escalation.bulk_create([p.escalation for p in planned])
    await TicketEvent.bulk_create([p.event for p in planned])
    await inbox.send_all([p.message for p in planned], at=now)


async def tasks_of(ticket_ids: list[int]) -> list[PartnerTask]:
    return await PartnerTask.filter(ticket_id__in=ticket_ids).order_by("id")


__all__ = ["accept", "complete", "escalate_overdue", "open_tasks", "tasks_of"]
