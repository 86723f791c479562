"""Who hears about a ticket, in Chinese: the inbox of each person concerned, and the tenant's webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.expressions import Q

from tenants import clock
from tenants.paging import newest_first
from tenants.territory.parties import Unit
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.territory.people import Person, Post, PostKind
from tenants.tickets.errors import STATE_ZH
from tenants.tickets.models import EfficiencyCase, Escalation, Notification, Ticket, TicketState, UnitKind
from tenants.tickets.webhooks import enqueue as enqueue_webhooks

UNIT_POSTS = {
    UnitKind.COMMUNITY: (PostKind.COMMUNITY_WORKER, "community"),
    UnitKind.STREET: (PostKind.STREET_OFFICER, "street"),
    UnitKind.PROPERTY_COMPANY: (PostKind.PROPERTY_COMPANY, "company"),
    UnitKind.HOUSING_DEPT: (PostKind.HOUSING_DEPT, "unit"),
    UnitKind.COUNTY_DEPARTMENT: (PostKind.UNIT_STAFF, "unit"),
}


LEVEL_ZH = {"community": "社区", "street": "街道", "county_department": "县级部门"}


@dataclass(frozen=True)
class Message:
    recipients: Sequence[str]
    kind: str
    title: str
    body: str
    ticket_id: int | None


async def _post_holders(
    post_kind: PostKind, target_kind: str | None, target_ids: list[int] | None, at: datetime
) -> list[str]:
    """User ids of the holders of active posts of a kind (on the given targets; ``None``: any target)."""
    day = await clock.today(at)
    qs = Post.filter(kind=post_kind, starts_on__lte=day).filter(Q(ends_on=None) | Q(ends_on__gte=day))
    if target_ids is not None:
        qs = qs.filter(target_kind=target_kind, target_id__in=target_ids)
    person_ids = await qs.values_list("person_id", flat=True)
    if not person_ids:
        return []
    return list(await Person.filter(id__in=list(person_ids)).order_by("id").values_list("user_id", flat=True))  # type: ignore[arg-type]


async def unit_staff(kind: UnitKind | None, unit_id: int | None, at: datetime) -> list[str]:
    """User ids of the people whose active posts make them the unit's staff."""
    if kind is None or unit_id is None:
        return []
    post_kind, target_kind = UNIT_POSTS[kind]
    return await _post_holders(post_kind, target_kind, [unit_id], at)


async def reviewer_staff(ticket: Ticket, at: datetime) -> list[str]:
    """Who reviews a reported ticket: its community's workers, or its street's officers when it has no community."""
    if ticket.community_id is not None:
        return await unit_staff(UnitKind.COMMUNITY, ticket.community_id, at)
    return await unit_staff(UnitKind.STREET, ticket.street_id, at)


async def office_staff(at: datetime) -> list[str]:
    """The staff of the tenant's efficiency-supervision offices 作风效能办 (housing-department posts on the unit)."""
    office_ids = await Unit.filter(kind=PartyUnitKind.EFFICIENCY_OFFICE, is_active=True).values_list("id", flat=True)
    if not office_ids:
        return []
    return await _post_holders(PostKind.UNIT_STAFF, "unit", list(office_ids), at)  # type: ignore[arg-type]


async def send_many(messages: Sequence[Message], *, at: datetime) -> list[Notification]:
    """Put each message in its recipients' inboxes (duplicates dropped) and queue the webhook deliveries."""
    rows = [
        Notification(recipient=r, kind=m.kind, title=m.title, body=m.body, ticket_id=m.ticket_id, created_at=at)
        for m in messages
        for r in dict.fromkeys(r for r in m.recipients if r)
    ]
    if not rows:
        return []
    await Notification.bulk_create(rows)
    await enqueue_webhooks(rows, at=at)
    return rows


async def send(
    recipients: list[str], *, kind: str, title: str, body: str, ticket_id: int | None, at: datetime
) -> list[Notification]:
    """Put a message in each recipient's inbox (duplicates dropped)."""
    return await send_many([Message(recipients, kind, title, body, ticket_id)], at=at)


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
    item = ticket.rules.get("item", {}).get("title", ticket.item_code)
    state = STATE_ZH.get(ticket.state.value, ticket.state.value)
    name = _transition(before, after)
    if name is not None:
        await send(
            [ticket.reporter_user_id],
            kind=f"ticket.{name}",
            title=f"工单{state}",
            body=f"您反映的“{item}”（工单 {ticket.id}）当前状态：{state}。",
            ticket_id=ticket.id,
            at=at,
        )
    new_holder = (before.kind, before.unit_id) != (after.kind, after.unit_id)
    if after.state in _UNIT_STATES and (new_holder or before.state == TicketState.RESOLVED):
        staff = await unit_staff(ticket.assignee_kind, ticket.assignee_id, at)
        await send(
            staff,
            kind="ticket.assigned",
            title="新的工单待办理",
            body=f"工单 {ticket.id}“{item}”已交由贵单位办理，请在时限内处理。",
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
        staff += await _post_holders(PostKind.TENANT_ADMIN, None, None, at)
        staff += await office_staff(at)
    await send(
        staff,
        kind="ticket.escalated",
        title="工单已提级督办",
        body=f"工单 {ticket.id}“{item}”已提级至{level_zh}督办，请尽快办理。",
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


async def inbox(
    recipient: str, *, unread_only: bool, after: tuple[datetime, int] | None, limit: int
) -> list[Notification]:
    """One person's messages, newest first (keyset on created_at, id)."""
    qs = Notification.filter(recipient=recipient)
    if unread_only:
        qs = qs.filter(read_at=None)
    return await newest_first(qs, time_field="created_at", after=after, limit=limit)


async def unread_count(recipient: str) -> int:
    return await Notification.filter(recipient=recipient, read_at=None).count()


async def mark_read(recipient: str, *, ids: list[int] | None, at: datetime) -> int:
    """Mark the recipient's messages read (the given ones, or all when ``ids`` is None); returns how many."""
    qs = Notification.filter(recipient=recipient, read_at=None)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return await qs.update(read_at=at)
