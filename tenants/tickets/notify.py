"""Who hears about a ticket, in Chinese: the inbox of each person concerned (and, later, the tenant's webhook)."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from tenants.territory.people import Person, Post, PostKind
from tenants.tickets.errors import STATE_ZH
from tenants.tickets.models import Escalation, Notification, Ticket, UnitKind

UNIT_POSTS = {
    UnitKind.COMMUNITY: (PostKind.COMMUNITY_WORKER, "community"),
    UnitKind.STREET: (PostKind.STREET_OFFICER, "street"),
    UnitKind.PROPERTY_COMPANY: (PostKind.PROPERTY_COMPANY, "company"),
    UnitKind.HOUSING_DEPT: (PostKind.HOUSING_DEPT, "unit"),
    UnitKind.COUNTY_DEPARTMENT: (PostKind.HOUSING_DEPT, "unit"),
}


async def unit_staff(kind: UnitKind | None, unit_id: int | None, at: datetime) -> list[str]:
    """User ids of the people whose active posts make them the unit's staff."""
    if kind is None or unit_id is None:
        return []
    post_kind, target_kind = UNIT_POSTS[kind]
    person_ids = (
        await Post.filter(kind=post_kind, target_kind=target_kind, target_id=unit_id, starts_on__lte=at.date())
        .filter(Q(ends_on=None) | Q(ends_on__gte=at.date()))
        .values_list("person_id", flat=True)
    )
    if not person_ids:
        return []
    return list(await Person.filter(id__in=list(person_ids)).order_by("id").values_list("user_id", flat=True))  # type: ignore[arg-type]


async def send(
    recipients: list[str], *, kind: str, title: str, body: str, ticket_id: int | None, at: datetime
) -> list[Notification]:
    """Put a message in each recipient's inbox (duplicates dropped)."""
    unique = list(dict.fromkeys(r for r in recipients if r))
    if not unique:
        return []
    rows = [
        Notification(recipient=r, kind=kind, title=title, body=body, ticket_id=ticket_id, created_at=at) for r in unique
    ]
    await Notification.bulk_create(rows)
    return rows


async def ticket_changed(ticket: Ticket, action: str, at: datetime) -> None:
    item = ticket.rules.get("item", {}).get("title", ticket.item_code)
    state = STATE_ZH.get(ticket.state.value, ticket.state.value)
    body = f"您反映的“{item}”（工单 {ticket.id}）当前状态：{state}。"
    if action != "report":
        await send(
            [ticket.reporter_user_id],
            kind=f"ticket.{action}",
            title=f"工单{state}",
            body=body,
            ticket_id=ticket.id,
            at=at,
        )
    if action in ("dispatch", "transfer", "rate") and ticket.state.value in (
        "dispatched",
        "transferred",
        "accepted",
        "reopened",
    ):
        staff = await unit_staff(ticket.assignee_kind, ticket.assignee_id, at)
        await send(
            staff,
            kind="ticket.assigned",
            title="新的工单待办理",
            body=f"工单 {ticket.id}“{item}”已交由贵单位办理，请在时限内处理。",
            ticket_id=ticket.id,
            at=at,
        )


async def escalated(ticket: Ticket, escalation: Escalation, at: datetime) -> None:
    item = ticket.rules.get("item", {}).get("title", ticket.item_code)
    level = ticket.rules["ladder"][escalation.to_level]["level"]
    level_zh = {"community": "社区", "street": "街道", "county_department": "县级部门"}.get(level, level)
    staff = await unit_staff(ticket.assignee_kind, ticket.assignee_id, at)
    await send(
        staff,
        kind="ticket.escalated",
        title="工单已提级督办",
        body=f"工单 {ticket.id}“{item}”已提级至{level_zh}督办，请尽快办理。",
        ticket_id=ticket.id,
        at=at,
    )
