"""What a ticket's people read in their inbox, in Chinese: the resident, the unit that holds it, its reviewers,
the rung that supervises it, the efficiency office. Sent through ``tenants.inbox``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tenants.inbox import Message, send
from tenants.inbox.holders import office_staff, tenant_admins, unit_staff
from tenants.tickets.errors import STATE_ZH
from tenants.tickets.models import EfficiencyCase, Escalation, Ticket, TicketState, UnitKind

LEVEL_ZH = {"community": "社区", "street": "街道", "county_department": "县级部门"}


async def reviewer_staff(ticket: Ticket, at: datetime) -> list[str]:
    """Who reviews a reported ticket: its community's workers, or its street's officers when it has no community."""
    if ticket.community_id is not None:
        return await unit_staff(UnitKind.COMMUNITY, ticket.community_id, at)
    return await unit_staff(UnitKind.STREET, ticket.street_id, at)


@dataclass(frozen=True)
class Holding:
    """A ticket's state and who holds it, taken before an action: effects follow (before, after)."""

    state: TicketState
    kind: UnitKind | None
    unit_id: int | None

    @classmethod
    def of(cls, ticket: Ticket) -> Holding:
        return cls(ticket.state, ticket.assignee_kind, ticket.assignee_id)


_UNIT_STATES = (TicketState.DISPATCHED, TicketState.TRANSFERRED, TicketState.ACCEPTED, TicketState.REOPENED)


def _transition(before: Holding, after: Holding) -> str | None:
    """The name of a change for the resident's inbox (``ticket.<name>``); None when nothing changed."""
    b, a = before.state, after.state
    if a == TicketState.REJECTED:
        return "reject"
    if b == TicketState.RESOLVED and a in (TicketState.CLOSED, TicketState.REOPENED):
        return "rate"
    if a in (TicketState.RESOLVED, TicketState.CLOSED) and b in _UNIT_STATES:
        return "resolve"
    if b == TicketState.REPORTED and a in _UNIT_STATES:
        return "dispatch"
    if (before.kind, before.unit_id) != (after.kind, after.unit_id) and a in _UNIT_STATES:
        return "transfer"
    if a == TicketState.ACCEPTED and b in (TicketState.DISPATCHED, TicketState.TRANSFERRED):
        return "accept"
    return None


async def ticket_changed(ticket: Ticket, before: Holding, at: datetime) -> None:
    """Tell the resident what changed, and the unit that now holds the ticket that it is theirs: a new holder,
    or the same unit when an unsatisfied rating sends the ticket back. Decided by (before, after) alone, so an
    automatic dispatch tells the assignee as a manual one does."""
    after = Holding.of(ticket)
    item = item_title(ticket)
    state = STATE_ZH.get(ticket.state.value, ticket.state.value)
    name = _transition(before, after)
    if name is not None:
        await send(
            to=[ticket.reporter_user_id],
            kind=f"ticket.{name}",
            title=f"工单{state}",
            text=f"您反映的“{item}”（工单 {ticket.id}）当前状态：{state}。",
            ticket_id=ticket.id,
            at=at,
        )
    new_holder = (before.kind, before.unit_id) != (after.kind, after.unit_id)
    if after.state in _UNIT_STATES and (new_holder or before.state == TicketState.RESOLVED):
        staff = await unit_staff(ticket.assignee_kind, ticket.assignee_id, at)
        await send(
            to=staff,
            kind="ticket.assigned",
            title="新的工单待办理",
            text=f"工单 {ticket.id}“{item}”已交由贵单位办理，请在时限内处理。",
            ticket_id=ticket.id,
            at=at,
        )


def item_title(ticket: Ticket) -> str:
    return str(ticket.rules.get("item", {}).get("title", ticket.item_code))


async def escalated(ticket: Ticket, escalation: Escalation, at: datetime) -> None:
    item = item_title(ticket)
    level = ticket.rules["ladder"][escalation.to_level]["level"]
    level_zh = LEVEL_ZH.get(level, level)
    if ticket.assignee_kind is not None:
        staff = await unit_staff(ticket.assignee_kind, ticket.assignee_id, at)
    else:  # not dispatched yet: the reviewers are the ones behind
        staff = await reviewer_staff(ticket, at)
    # The rung the ticket climbed to supervises it from now on: the street's officers, or at county level the
    # tenant's administrators and the efficiency office.
    if level == "street" and ticket.street_id is not None:
        staff += await unit_staff(UnitKind.STREET, ticket.street_id, at)
    elif level == "county_department":
        staff += await tenant_admins(at)
        staff += await office_staff(at)
    await send(
        to=staff,
        kind="ticket.escalated",
        title="工单已提级督办",
        text=f"工单 {ticket.id}“{item}”已提级至{level_zh}督办，请尽快办理。",
        ticket_id=ticket.id,
        at=at,
    )


async def due_soon_messages(tickets: Sequence[Ticket], *, at: datetime, zone: ZoneInfo) -> list[Message]:
    """到期提醒 for each ticket: to its unit's staff, or to its reviewers while it waits for dispatch."""
    staff: dict[tuple[str, int | None], list[str]] = {}
    messages = []
    for t in tickets:
        if t.assignee_kind is None:
            key: tuple[str, int | None] = ("review", t.community_id or t.street_id)
            if key not in staff:
                staff[key] = await reviewer_staff(t, at)
            step = "审核派单"
        else:
            key = (t.assignee_kind.value, t.assignee_id)
            if key not in staff:
                staff[key] = await unit_staff(t.assignee_kind, t.assignee_id, at)
            step = "办理"
        due = t.due_at.astimezone(zone).strftime("%m月%d日 %H:%M") if t.due_at else ""
        messages.append(
            Message(
                staff[key],
                "ticket.due_soon",
                "工单即将超时",
                f"工单 {t.id}“{item_title(t)}”的{step}时限将于 {due} 到期，请及时处理，逾期将自动提级督办。",
                t.id,
            )
        )
    return messages


def office_message(case: EfficiencyCase, unit_name: str, recipients: list[str]) -> Message:
    return Message(
        recipients,
        "efficiency.handed_over",
        "单位移交作风效能办",
        f"{unit_name}在 {case.period} 被提级督办 {case.escalations} 次，已按规定移交作风效能办督查。",
        None,
    )
