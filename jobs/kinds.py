"""The per-tenant job kinds: name -> (how its period key is derived, the service it runs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tenants import clock
from tenants.assessment import schedule as assessment_schedule
from tenants.bonds import reminders as bond_reminders
from tenants.subsidies import schedule as settlement_schedule
from tenants.tenancy.service import data_volume
from tenants.tickets import reminders


@dataclass(frozen=True)
class JobKind:
    name: str
    period: Callable[[datetime, ZoneInfo], str]
    run: Callable[[], Awaitable[dict[str, Any] | None]]


def daily(at: datetime, zone: ZoneInfo) -> str:
    """The tenant-local calendar date of ``at`` (periods live in the tenant's time zone)."""
    return clock.local_day(at, zone).isoformat()


def minutely(at: datetime, zone: ZoneInfo) -> str:
    """The tenant-local minute of ``at``: one reminder tick per tenant and minute."""
    return at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


async def ticket_reminders() -> dict[str, Any]:
    """Reminders before ticket deadlines, automatic escalation after them, hand-overs to the efficiency office."""
    return await reminders.tick(now=clock.now())


def hourly(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%dT%H")


async def assessment() -> dict[str, Any]:
    """Open the last period's assessment round; rate it on the configured day and hour."""
    return await assessment_schedule.hourly(now=clock.now())


async def settlement() -> dict[str, Any]:
    """Settle the last complete 以奖代补 period on the configured day and hour (once its ratings are published)."""
    return await settlement_schedule.hourly(now=clock.now())


async def bond_top_ups() -> dict[str, Any]:
    """Remind companies of bond top-ups coming due; flag the ones past due, once each."""
    return await bond_reminders.daily(now=clock.now())


KINDS: dict[str, JobKind] = {
    # A daily snapshot of how many rows each tenant owns per table: a data-volume record for operators.
    "data_volume": JobKind("data_volume", daily, data_volume),
    "ticket_reminders": JobKind("ticket_reminders", minutely, ticket_reminders),
    "assessment": JobKind("assessment", hourly, assessment),
    "settlement": JobKind("settlement", hourly, settlement),
    "bond_top_ups": JobKind("bond_top_ups", daily, bond_top_ups),
}
