"""The rules a ticket lives by, taken from the configuration in force when it was opened, and its clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenants.config.document import ConfigDocument
from tenants.errors import Problem

LEAD_DEFAULT_MINUTES = 30


def find_item(doc: ConfigDocument, item_code: str) -> tuple[Any, Any] | None:
    for category in doc.tickets.taxonomy:
        for item in category.items:
            if item.code == item_code:
                return category, item
    return None


def snapshot(doc: ConfigDocument, item_code: str) -> tuple[dict, list[Problem]]:
    found = find_item(doc, item_code)
    if found is None:
        return {}, [
            Problem(
                "itemCode",
                "unknown",
                f"事项 {item_code} 不在本地的诉求目录中",
                f"item {item_code} is not in this tenant's ticket taxonomy",
            )
        ]
    category, item = found
    t = doc.tickets
    return {
        "category": {"code": category.code, "title": category.title},
        "item": {
            "code": item.code,
            "title": item.title,
            "unit": item.unit,
            "unit_code": item.unit_code,
            "sla_hours": item.sla_hours,
            "partners": [p.model_dump() for p in item.partners],
        },
        "steps": t.steps.model_dump(),
        "review_hours": t.review_dispatch_sla_hours,
        "ladder": [lvl.model_dump() for lvl in t.escalation_ladder],
        "office_after": t.escalations_before_efficiency_office,
        "office_window": t.efficiency_office_window,
        "partner_accept_hours": t.partner_accept_hours,
        "scale": t.satisfaction_scale.model_dump(),
        "lead_minutes": doc.reminders.ticket_deadline_lead_minutes,
    }, []


def period_of(at: datetime, zone: ZoneInfo) -> str:
    """The tenant-local month of ``at``, e.g. 2026-11."""
    return at.astimezone(zone).strftime("%Y-%m")


def after_hours(start: datetime, hours: int) -> datetime:
    return start + timedelta(hours=hours)
