"""The hourly 双报到 activities run: close every open activity that ended ``CLOSE_AFTER`` ago (signed and assigned
people without attendance become absent), and end the unit registrations whose agreement ran out
(``units.end_expired``). Safe to run twice or concurrently: each activity is locked and closed once
(``activities.close_due``); a registration is ended once (only approved ones are)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tenants import clock
from tenants.config.service import effective_config
from tenants.dual import units
from tenants.dual.activities import close_due
from tenants.scope import scoped_transaction
from tenants.tenancy.service import current_zone

# Staff have a day after the end to correct attendance before the activity closes by itself (then only with a
# reason): long enough for an evening activity to be checked the next morning.
CLOSE_AFTER = timedelta(hours=24)


async def hourly(*, now: datetime | None = None) -> dict[str, Any]:
    at = now or clock.now()
    async with scoped_transaction():
        day = clock.local_day(at, await current_zone())  # the run's day (a rerun for a past hour reads that day's)
        if not (await effective_config(day)).document.party.dual_registration.enabled:
            return {"enabled": False}
        return {"closed": await close_due(now=at, after=CLOSE_AFTER),
                "units_ended": len(await units.end_expired(now=at))}
