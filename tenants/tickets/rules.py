"""The rules a ticket lives by, taken from the configuration in force when it was opened, and its clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, NotRequired, TypedDict, cast
from zoneinfo import ZoneInfo

from tenants.config.document import ConfigDocument
from tenants.errors import Problem

LEAD_DEFAULT_MINUTES = 30


class CategoryRules(TypedDict):
    code: str
    title: str


class ItemRules(TypedDict):
    code: str
    title: str
    unit: str
    unit_code: str | None
    sla_hours: int
    partners: NotRequired[list[dict[str, Any]]]  # tickets opened before partners existed have none


class Steps(TypedDict):
    review: bool
    dispatch: bool
    accept: bool
    resolve: bool
    rate: bool


class Rung(TypedDict):
    level: str
    hours: int


class Scale(TypedDict):
    lowest: int
    highest: int
    satisfied_from: int


class TicketRules(TypedDict):
    """The ``ticket.rules`` snapshot (JSON): the configuration a ticket keeps for its whole life."""

    category: CategoryRules
    item: ItemRules
    steps: Steps
    review_hours: int
    ladder: list[Rung]
    office_after: int
    office_window: str
    partner_accept_hours: NotRequired[int]  # absent on tickets opened before partner tasks
    scale: Scale
    lead_minutes: int


# Keys of ``ticket.rules`` that SQL reads (``t.rules->>'...'``): reminders' lead time, the efficiency office's
# hand-over threshold and window. Renaming one is a data migration.
LEAD_MINUTES: Final = "lead_minutes"
OFFICE_AFTER: Final = "office_after"
OFFICE_WINDOW: Final = "office_window"


def rules_of(ticket: Any) -> TicketRules:
    """A ticket's stored rules, typed (the JSON column holds exactly what ``snapshot`` made)."""
    return cast(TicketRules, ticket.rules)


def find_item(doc: ConfigDocument, item_code: str) -> tuple[Any, Any] | None:
    for category in doc.tickets.taxonomy:
        for item in category.items:
            if item.code == item_code:
                return category, item
    return None


def snapshot(doc: ConfigDocument, item_code: str) -> tuple[TicketRules, list[Problem]]:
    """The rules of ``item_code`` under ``doc`` (stored as JSON on the ticket), or the item's problem."""
    found = find_item(doc, item_code)
    if found is None:
        return cast(TicketRules, {}), [
            Problem(
                "itemCode",
                "unknown",
                f"事项 {item_code} 不在本地的诉求目录中",
                f"item {item_code} is not in this tenant's ticket taxonomy",
            )
        ]
    category, item = found
    t = doc.tickets
    rules: TicketRules = {
        "category": {"code": category.code, "title": category.title},
        "item": {
            "code": item.code,
            "title": item.title,
            "unit": item.unit,
            "unit_code": item.unit_code,
            "sla_hours": item.sla_hours,
            "partners": [p.model_dump() for p in item.partners],
        },
        "steps": cast(Steps, t.steps.model_dump()),
        "review_hours": t.review_dispatch_sla_hours,
        "ladder": [cast(Rung, lvl.model_dump()) for lvl in t.escalation_ladder],
        OFFICE_AFTER: t.escalations_before_efficiency_office,
        OFFICE_WINDOW: t.efficiency_office_window,
        "partner_accept_hours": t.partner_accept_hours,
        "scale": cast(Scale, t.satisfaction_scale.model_dump()),
        LEAD_MINUTES: doc.reminders.ticket_deadline_lead_minutes,
    }
    return rules, []


def period_of(at: datetime, zone: ZoneInfo) -> str:
    """The tenant-local month of ``at``, e.g. 2026-11."""
    return at.astimezone(zone).strftime("%Y-%m")


def after_hours(start: datetime, hours: int) -> datetime:
    return start + timedelta(hours=hours)
