"""The per-tenant job kinds: name -> (how its period key is derived, the service it runs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenants import clock
from tenants.assessment import scheduled as assessment_scheduled
from tenants.bonds import scheduled as bonds_scheduled
from tenants.dual import activity_scheduled as dual_activities_scheduled
from tenants.dual import rules_scheduled as dual_rules_scheduled
from tenants.dual import wish_scheduled
from tenants.files import scheduled as files_scheduled
from tenants.meetings import scheduled as meetings_scheduled
from tenants.points import grid_scheduled
from tenants.points import scheduled as points_scheduled
from tenants.points import statements_scheduled as vouchers_scheduled
from tenants.subsidies import scheduled as settlement_scheduled
from tenants.tenancy.scheduled import data_volume
from tenants.tickets import scheduled as tickets_scheduled


@dataclass(frozen=True)
class JobKind:
    name: str
    period: Callable[[datetime, ZoneInfo], str]
    run: Callable[[], Awaitable[dict[str, Any] | None]]
    # How far a tick looks back for periods that never ran or failed: ``catch_up`` periods ``step`` apart,
    # the current one included (1: the latest only).
    step: timedelta = timedelta(days=1)
    catch_up: int = 1

    def due_periods(self, at: datetime, zone: ZoneInfo, since: datetime) -> list[str]:
        """The periods a tick at ``at`` answers for, newest first: the current one, and earlier ones back to
        ``since`` (the tenant's creation) within the catch-up window."""
        first = self.period(since, zone)
        periods = [self.period(at, zone)]
        for i in range(1, self.catch_up):
            p = self.period(at - i * self.step, zone)
            if p >= first and p not in periods:
                periods.append(p)
        return periods


def daily(at: datetime, zone: ZoneInfo) -> str:
    """The tenant-local calendar date of ``at`` (periods live in the tenant's time zone)."""
    return clock.local_day(at, zone).isoformat()


def minutely(at: datetime, zone: ZoneInfo) -> str:
    """The tenant-local minute of ``at``: one reminder tick per tenant and minute."""
    return at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


async def ticket_reminders() -> dict[str, Any]:
    """Reminders before ticket deadlines, automatic escalation after them, hand-overs to the efficiency office."""
    return await tickets_scheduled.tick(now=clock.now())


def hourly(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%dT%H")


async def assessment() -> dict[str, Any]:
    """Open the last period's assessment round; rate it on the configured day and hour."""
    return await assessment_scheduled.hourly(now=clock.now())


async def settlement() -> dict[str, Any]:
    """Settle the last complete 以奖代补 period on the configured day and hour (once its ratings are published)."""
    return await settlement_scheduled.hourly(now=clock.now())


async def bond_top_ups() -> dict[str, Any]:
    """Remind companies of bond top-ups coming due; flag the ones past due, once each."""
    return await bonds_scheduled.daily(now=clock.now())


async def file_cleanup() -> dict[str, Any]:
    """Delete uploads never attached to anything once the tenant's retention has passed (object, thumbnail, row)."""
    return await files_scheduled.hourly(now=clock.now())


# issue 17 part A: the nightly points run.
async def points_nightly() -> dict[str, Any]:
    """Expire the points lots due today and warn of those expiring soon, from the tenant's nightly points hour."""
    return await points_scheduled.nightly(now=clock.now())


# issue 17 part D: grid scores and grid workers' pay statements of the month before.
async def grid_pay() -> dict[str, Any]:
    """Score last month's grids and make its grid workers' pay statements on the configured day and hour, once."""
    return await grid_scheduled.hourly(now=clock.now())


# issue 17 part B: vouchers past their day expire (points and money back); partner statements of the month before.
async def voucher_expiry() -> dict[str, Any]:
    """Expire vouchers whose last day has ended: points as lots with their expiry, reserved money and stock back."""
    return await vouchers_scheduled.expiry(now=clock.now())


async def partner_statements() -> dict[str, Any]:
    """Compute the partner statements of the month before on the configured day and hour."""
    return await vouchers_scheduled.monthly(now=clock.now())


# issue 18 part C: micro-wishes escalated, overdue and reminded.
async def dual_wishes() -> dict[str, Any]:
    """Escalate wishes unclaimed past the claim days, mark claimed ones overdue, remind claimants before the due day."""
    return await wish_scheduled.hourly(now=clock.now())


# issue 18 part D: 双报到 activities that ended a day ago close (absences recorded).
async def dual_activities() -> dict[str, Any]:
    """Close the 双报到 activities that ended 24 hours ago or more: signed people without attendance are absent."""
    return await dual_activities_scheduled.hourly(now=clock.now())


# issue 18 part E: the absence rule after activities close (and talk reminders); year-end reports to work units.
async def dual_rules() -> dict[str, Any]:
    """Open the talks and notices of closed activities' absences (each activity once); remind of talks due soon."""
    return await dual_rules_scheduled.absence_rules(now=clock.now())


async def dual_year_end() -> dict[str, Any]:
    """Send each work unit's contacts its 双报到 roll-up of the year before, on the configured day, once."""
    return await dual_rules_scheduled.year_end_reports(now=clock.now())


# issue 19 part B: meeting decisions reminded, overdue and escalated; places without a meeting flagged.
async def meetings_hourly() -> dict[str, Any]:
    """Remind, mark overdue and escalate meeting decisions; flag places without a meeting in the last period."""
    return await meetings_scheduled.hourly(now=clock.now())


KINDS: dict[str, JobKind] = {
    # A daily snapshot of how many rows each tenant owns per table: a data-volume record for operators.
    "data_volume": JobKind("data_volume", daily, data_volume, timedelta(days=1), 3),
    # A missed minute needs no run of its own: the next tick's run looks at every deadline up to its now.
    "ticket_reminders": JobKind("ticket_reminders", minutely, ticket_reminders, timedelta(minutes=1), 1),
    "assessment": JobKind("assessment", hourly, assessment, timedelta(hours=1), 6),
    "settlement": JobKind("settlement", hourly, settlement, timedelta(hours=1), 6),
    "bond_top_ups": JobKind("bond_top_ups", daily, bond_top_ups, timedelta(days=1), 3),
    # Each run deletes everything past retention, so a missed hour needs no run of its own.
    "file_cleanup": JobKind("file_cleanup", hourly, file_cleanup, timedelta(hours=1), 1),
    # issue 17 part A: every run expires what is due and warns whoever was not warned, so a missed hour needs none.
    "points_nightly": JobKind("points_nightly", hourly, points_nightly, timedelta(hours=1), 1),
    # issue 17 part D
    "grid_pay": JobKind("grid_pay", hourly, grid_pay, timedelta(hours=1), 6),
    # issue 17 part B. Each expiry run takes every voucher due by then, so a missed hour needs no run of its own.
    "voucher_expiry": JobKind("voucher_expiry", hourly, voucher_expiry, timedelta(hours=1), 1),
    "partner_statements": JobKind("partner_statements", hourly, partner_statements, timedelta(hours=1), 6),
    # issue 18 part C. Each run takes every wish due by then, so a missed hour needs no run of its own.
    "dual_wishes": JobKind("dual_wishes", hourly, dual_wishes, timedelta(hours=1), 1),
    # issue 18 part D. Each run closes everything due by then, so a missed hour needs no run of its own.
    "dual_activities": JobKind("dual_activities", hourly, dual_activities, timedelta(hours=1), 1),
    # issue 18 part E. Each run takes every pending activity and unsent unit, so a missed hour needs no run of its own.
    "dual_rules": JobKind("dual_rules", hourly, dual_rules, timedelta(hours=1), 1),
    "dual_year_end": JobKind("dual_year_end", hourly, dual_year_end, timedelta(hours=1), 1),
    # issue 19 part B. Each run takes every decision and place due by then, so a missed hour needs no run of its own.
    "meetings_hourly": JobKind("meetings_hourly", hourly, meetings_hourly, timedelta(hours=1), 1),
}
