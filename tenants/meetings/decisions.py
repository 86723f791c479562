"""A meeting's decisions 会议决定事项, followed through like small tickets: added by the meeting's community or
street with an owner (a unit or a firm), a due day and a description; done with evidence by the owner (or the
area's staff), or cancelled by the area's staff; every step on the decision's append-only timeline. The
reminders, overdue marks and escalations are the hourly run's (tenants/meetings/scheduled.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.expressions import Subquery

from tenants import clock
from tenants.audit.service import record
from tenants.errors import InvalidInput, NotFound, Noun, Problem
from tenants.idempotency import idempotent
from tenants.meetings.access import readable_decisions, readable_meetings
from tenants.meetings.models import Decision, DecisionEvent, DecisionStatus, OwnerKind
from tenants.meetings.series import link_problems, meeting_config, text_problems
from tenants.paging import Page, Window, newest_first, where
from tenants.permissions import require
from tenants.records import rows_by_id
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.parties import PropertyCompany, Unit
from tenants.workflow import Transition, transition

S = DecisionStatus
DECISION = Noun("会议决定事项", "decision", {"open": "办理中", "done": "已办结", "cancelled": "已取消"},
                {"complete": "办结", "cancel": "取消"}, field="decisionId", state_key="status")
DESCRIPTION_LIMIT = 2000
MAX_DUE_DAYS = 3 * 366  # a decision is due within about three years of its meeting


@dataclass(frozen=True)
class DecisionRead:
    """A decision as read: the row, and whether it is open past its due day (tenant today)."""

    row: Decision
    overdue: bool


def _read(row: Decision, today: date) -> DecisionRead:
    return DecisionRead(row, row.status == S.OPEN and row.due_on < today)


async def event(decision_id: int, action: str, actor: str, at: datetime, note: str = "") -> None:
    await DecisionEvent.create(decision_id=decision_id, action=action, actor=actor, at=at, note=note)


async def _owner_exists(kind: str, owner_id: int) -> bool:
    if kind == OwnerKind.COMPANY:
        return await PropertyCompany.filter(id=owner_id).exists()
    return await Unit.filter(id=owner_id, is_active=True).exists()


@idempotent("meetings.decision.add", Decision)
async def add_decision(
    *, access: Access, actor: str, meeting_id: int, owner_kind: str, owner_id: int, due_on: date, description: str,
    now: datetime | None = None,
) -> Decision:
    """A decision of a meeting the caller reads, added by the staff of its community or street."""
    at = now or clock.now()
    today = await clock.today(at)
    await meeting_config(today, field="meetingId")
    meeting = await readable_meetings(access).filter(id=meeting_id).first()
    if meeting is None:
        raise NotFound(f"会议 {meeting_id} 不存在", f"meeting {meeting_id} does not exist", field="meetingId")
    require(access, "meetings.decision.manage", [("community", meeting.community_id), ("street", meeting.street_id)],
            field="meetingId")
    problems = text_problems("description", description, "决定事项", required=True, limit=DESCRIPTION_LIMIT)
    if owner_kind not in tuple(OwnerKind):
        problems.append(Problem("ownerKind", "owner_kind", "责任方须为单位或物业企业", "ownerKind is unit or company"))
    elif not await _owner_exists(owner_kind, owner_id):
        problems.append(Problem("ownerId", "owner", f"责任方 {owner_id} 不存在", f"owner {owner_id} does not exist"))
    if due_on < today:  # a decision added after its due day would count as late or on time by fiat
        problems.append(Problem("dueOn", "date", "办结期限不能早于今天", "dueOn is not before today"))
    elif not meeting.held_on <= due_on <= meeting.held_on + timedelta(days=MAX_DUE_DAYS):
        problems.append(Problem("dueOn", "date", "办结期限须在会议之日起三年内",
                                "dueOn is on or after the meeting's day and within three years"))
    if problems:
        raise InvalidInput.of(problems)
    async with savepoint():
        decision = await Decision.create(
            meeting_id=meeting.id, community_id=meeting.community_id, street_id=meeting.street_id,
            owner_kind=owner_kind, owner_id=owner_id, due_on=due_on, description=description.strip(),
            created_by=actor, created_at=at,
        )
        await event(decision.id, "added", actor, at, f"due {due_on.isoformat()}")
        await record(actor=actor, action="meetings.decision.add", target_type="meeting_decision",
                     target_id=decision.id, details={"meeting": meeting.id, "owner": f"{owner_kind}:{owner_id}"})
    return decision


async def _complete(d: Decision, *, actor: str, at: datetime, today: date, evidence: str, links: list[str]) -> None:
    d.status, d.done_on, d.evidence, d.evidence_links = S.DONE, today, evidence, links
    await d.save(update_fields=["status", "done_on", "evidence", "evidence_links"])
    await event(d.id, "done", actor, at, evidence)


async def _cancel(d: Decision, *, actor: str, at: datetime, today: date, reason: str) -> None:
    d.status = S.CANCELLED
    await d.save(update_fields=["status"])
    await event(d.id, "cancelled", actor, at, reason)


TRANSITIONS: dict[str, Transition[Decision]] = {
    "complete": Transition("complete", (S.OPEN,), "meetings.decision.complete", _complete),
    "cancel": Transition("cancel", (S.OPEN,), "meetings.decision.manage", _cancel),
}


async def _transition(name: str, *, access: Access, actor: str, decision_id: int, now: datetime | None,
                      **effect_args: object) -> DecisionRead:
    at = now or clock.now()
    today = await clock.today(at)
    async with savepoint():
        d = await readable_decisions(access).filter(id=decision_id).select_for_update().first()
        if d is None:
            raise NotFound(f"会议决定事项 {decision_id} 不存在", f"decision {decision_id} does not exist",
                           field="decisionId")

        async def allow(permission: str, row: Decision) -> None:
            node = row if permission == "meetings.decision.complete" else [
                ("community", row.community_id), ("street", row.street_id)]
            require(access, permission, node, field="decisionId")

        await transition(TRANSITIONS[name], DECISION, d, state=d.status, allow=allow, actor=actor, at=at,
                         today=today, **effect_args)
        await record(actor=actor, action=f"meetings.decision.{name}", target_type="meeting_decision",
                     target_id=d.id, details={"status": d.status.value})
        return _read(d, today)


async def complete(*, access: Access, actor: str, decision_id: int, evidence: str,
                   evidence_links: list[str] | None = None, now: datetime | None = None) -> DecisionRead:
    """Mark an open decision done with evidence (what was done; links to photos or documents)."""
    links = evidence_links or []
    problems = text_problems("evidence", evidence, "办结情况", required=True, limit=DESCRIPTION_LIMIT)
    problems += link_problems("evidenceLinks", links)
    if problems:
        raise InvalidInput.of(problems)
    return await _transition("complete", access=access, actor=actor, decision_id=decision_id, now=now,
                             evidence=evidence.strip(), links=links)


async def cancel(*, access: Access, actor: str, decision_id: int, reason: str,
                 now: datetime | None = None) -> DecisionRead:
    """Cancel an open decision, with the reason."""
    if problems := text_problems("reason", reason, "取消理由", required=True, limit=500):
        raise InvalidInput.of(problems)
    return await _transition("cancel", access=access, actor=actor, decision_id=decision_id, now=now,
                             reason=reason.strip())


async def list_decisions(
    *, access: Access, window: Window, meeting_id: int | None = None, status: str | None = None,
    community_id: int | None = None,
) -> Page[DecisionRead]:
    """Decisions the caller reads, newest first."""
    qs = where(readable_decisions(access), meeting_id=meeting_id, status=status, community_id=community_id)
    got = await newest_first(qs, window, time_field="created_at")
    today = await clock.today()
    return got.with_rows([_read(r, today) for r in got.rows])


async def decisions_by_id(*, access: Access, ids: list[int]) -> dict[int, DecisionRead]:
    """The decisions among ``ids`` the caller reads (refetch by id)."""
    rows = await rows_by_id(readable_decisions(access), ids)
    today = await clock.today()
    return {i: _read(r, today) for i, r in rows.items()}


async def timeline(*, access: Access, decision_id: int) -> list[DecisionEvent]:
    """A decision's events in order (NOT_FOUND for a decision the caller does not read)."""
    if not await readable_decisions(access).filter(id=decision_id).exists():
        raise NotFound(f"会议决定事项 {decision_id} 不存在", f"decision {decision_id} does not exist",
                       field="decisionId")
    return list(await DecisionEvent.filter(decision_id=decision_id).order_by("at", "id"))


async def timelines_of(*, access: Access, decision_ids: list[int]) -> dict[int, list[DecisionEvent]]:
    """The timelines of the decisions among ``decision_ids`` the caller reads, by decision, oldest first: one
    statement (the events of the readable decisions, a subquery)."""
    readable = readable_decisions(access).filter(id__in=sorted(set(decision_ids))).values("id")
    out: dict[int, list[DecisionEvent]] = {}
    for row in await DecisionEvent.filter(decision_id__in=Subquery(readable)).order_by("decision_id", "at", "id"):
        out.setdefault(row.decision_id, []).append(row)
    return out
