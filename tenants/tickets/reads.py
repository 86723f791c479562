"""Reading tickets: one in scope, a filtered page of them, their timelines."""

from __future__ import annotations

from datetime import date, datetime

from tenants import clock
from tenants.errors import NotFound
from tenants.paging import Page, Window, newest_first
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.tickets.access import readable
from tenants.tickets.models import OPEN_STATES, Ticket, TicketEvent, TicketState, UnitKind


async def get_visible(access: Access, ticket_id: int) -> Ticket:
    ticket = await readable(access).filter(id=ticket_id).first()
    if ticket is None:
        raise NotFound(f"工单 {ticket_id} 不存在", f"ticket {ticket_id} does not exist", field="id")
    return ticket


async def list_tickets(
    *,
    access: Access,
    window: Window,
    state: TicketState | None = None,
    item_code: str | None = None,
    unit: tuple[UnitKind, int] | None = None,
    compound_id: int | None = None,
    overdue: bool | None = None,
    opened_from: date | None = None,
    opened_before: date | None = None,
    mine: bool = False,
    now: datetime | None = None,
) -> Page[Ticket]:
    """A window of the tickets in scope, newest first (keyset on opened_at, id), filtered; every filter is an
    indexed column. Not counted: a county's tickets run to hundreds of thousands."""
    at = now or clock.now()
    qs = readable(access)
    if mine:
        qs = qs.filter(reporter_user_id=access.user_id or "")
    if state is not None:
        qs = qs.filter(state=state)
    if item_code:
        qs = qs.filter(item_code=item_code)
    if unit is not None:
        qs = qs.filter(assignee_kind=unit[0], assignee_id=unit[1])
    if compound_id is not None:
        qs = qs.filter(compound_id=compound_id)
    if overdue is True:
        qs = qs.filter(state__in=list(OPEN_STATES), due_at__lt=at)
    elif overdue is False:
        qs = qs.exclude(state__in=list(OPEN_STATES), due_at__lt=at)
    zone = await current_zone()
    if opened_from is not None:
        qs = qs.filter(opened_at__gte=datetime.combine(opened_from, datetime.min.time(), zone))
    if opened_before is not None:
        qs = qs.filter(opened_at__lt=datetime.combine(opened_before, datetime.min.time(), zone))
    return await newest_first(qs, window, time_field="opened_at", countable=False)


async def events_of(ticket_ids: list[int]) -> list[TicketEvent]:
    return await TicketEvent.filter(ticket_id__in=ticket_ids).order_by("at", "id")
