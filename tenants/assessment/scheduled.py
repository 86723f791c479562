"""The scheduled side of assessment: open the last period's round, and rate it when the configuration says."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tenants import clock, periods
from tenants.assessment import interviews, ratings, reminders, rounds
from tenants.assessment.models import RatingSnapshot
from tenants.config.service import effective_config
from tenants.scope import scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import SYSTEM


async def hourly(*, now: datetime | None = None) -> dict[str, Any]:
    """Once the last period has ended its round is open (bodies score it until the deadline); once the tenant-local
    clock reaches ``schedule.monthly_rating`` (day and hour of the month after the period) its draft ratings are
    computed, once. Safe to run any number of times."""
    at = now or clock.now()
    async with scoped_transaction():
        zone = await current_zone()
        local = at.astimezone(zone)
        doc = (await effective_config(local.date())).document
        period = periods.previous_key(local.date(), doc.assessment.cadence)
        await rounds.open_round(access=SYSTEM, actor="system", period_key=period, now=at)
        _, end = periods.bounds(period)
        first = end + timedelta(days=1)
        run = doc.schedule.monthly_rating
        due = datetime(first.year, first.month, run.day, run.hour, tzinfo=zone)
        reminded = await reminders.remind_missing(now=at)
        rated = False
        if local >= due and not await RatingSnapshot.exists(period_key=period):
            await ratings.compute(access=SYSTEM, period_key=period, now=at)
            rated = True
        talks = await interviews.remind(now=at)  # issue 19: owed interviews, reminders, overdue
        return {"period": period, "rated": rated, "reminded": reminded, "interviews": talks}
