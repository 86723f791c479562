"""Reading tickets: one in scope, a filtered page of them, their timelines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tortoise.queryset import QuerySet

from tenants import clock
from tenants.errors import NotFound
from tenants.files.models import StoredFile
from tenants.paging import Link, Page, Window, newest, newest_first, page_with
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access, readable_companies, readable_units
from tenants.territory.access import readable as readable_areas
from tenants.territory.models import Community, Compound, Street
from tenants.territory.parties import PropertyCompany, Unit
from tenants.tickets.access import readable
from tenants.tickets.models import OPEN_STATES, PartnerTask, Ticket, TicketEvent, TicketState, UnitKind


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
    qs = await _filtered(
        access, state=state, item_code=item_code, unit=unit, compound_id=compound_id, overdue=overdue,
        opened_from=opened_from, opened_before=opened_before, mine=mine, now=now,
    )
    return await newest_first(qs, window, time_field="opened_at", countable=False)


async def _filtered(
    access: Access,
    *,
    state: TicketState | None = None,
    item_code: str | None = None,
    unit: tuple[UnitKind, int] | None = None,
    compound_id: int | None = None,
    overdue: bool | None = None,
    opened_from: date | None = None,
    opened_before: date | None = None,
    mine: bool = False,
    now: datetime | None = None,
) -> QuerySet[Ticket]:
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
    return qs


# A ticket's links that a list reads with its page (``list_tickets_with``), by name.
TICKET_LINKS = ("compound", "assignee", "timeline", "partner_tasks", "photo_files")
_UNIT_TABLES = ("community", "street", "property_company")


def _links(access: Access, wanted: set[str]) -> dict[str, Link]:
    links: dict[str, Link] = {}
    if "compound" in wanted:
        links["compound"] = Link(Compound, "x.id = p.compound_id", readable_areas(access, "compound"))
    if "assignee" in wanted:  # the assignee's name: a community or street, a company, or a department
        on = "x.id = p.assignee_id AND p.assignee_kind = '{}'"
        links["assignee_community"] = Link(Community, on.format("community"), readable_areas(access, "community"))
        links["assignee_street"] = Link(Street, on.format("street"), readable_areas(access, "street"))
        links["assignee_property_company"] = Link(
            PropertyCompany, on.format("property_company"), readable_companies(access)
        )
        links["assignee_unit"] = Link(
            Unit, "x.id = p.assignee_id AND p.assignee_kind NOT IN ('community', 'street', 'property_company')",
            readable_units(access),
        )
    if "timeline" in wanted:
        links["timeline"] = Link(TicketEvent, "x.ticket_id = p.id", many=True, order="x.at, x.id")
    if "partner_tasks" in wanted:
        links["partner_tasks"] = Link(PartnerTask, "x.ticket_id = p.id", many=True, order="x.id")
    if "photo_files" in wanted:
        links["photo_files"] = Link(
            StoredFile, "x.attached_kind = 'ticket' AND x.attached_id = p.id", many=True, order="x.uploaded_at, x.id"
        )
    return links


async def list_tickets_with(
    *, access: Access, window: Window, links: set[str], **filters: Any
) -> Page[tuple[Ticket, dict[str, Any]]]:
    """``list_tickets`` with the ``links`` (of ``TICKET_LINKS``) of each ticket read in the same statement, as the
    caller reads them: ``assignee`` is the assigned unit's row (None: none, or one the caller does not read)."""
    qs = await _filtered(access, **filters)
    got = await page_with(qs, newest("opened_at"), window, _links(access, links), countable=False)
    for ticket, linked in got.rows:
        if "assignee" in links:
            kind = ticket.assignee_kind.value if ticket.assignee_kind is not None else None
            name = kind if kind in _UNIT_TABLES else "unit"
            linked["assignee"] = linked.pop(f"assignee_{name}")
            for other in ("community", "street", "property_company", "unit"):
                linked.pop(f"assignee_{other}", None)
    return got


async def events_of(ticket_ids: list[int]) -> list[TicketEvent]:
    return await TicketEvent.filter(ticket_id__in=ticket_ids).order_by("at", "id")
