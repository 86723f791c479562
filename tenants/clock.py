"""The one clock: every instant comes from ``now()``, every day from ``today()`` or ``local_day()``.

A tenant's days are its own: Beijing is UTC+8, so from 16:00 to 24:00 UTC its date is already tomorrow. The
server's day (today by the host's clock, or the date of a UTC instant) is wrong for a tenant;
``tests/test_clock.py`` fails on any such call outside this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo


def now() -> datetime:
    """This instant, aware, in UTC."""
    return datetime.now(UTC)


def local_day(at: datetime, zone: tzinfo) -> date:
    """The calendar day of the instant ``at`` in ``zone``."""
    return at.astimezone(zone).date()


async def today(at: datetime | None = None) -> date:
    """The tenant-local day (of ``at``, or of this instant) of the tenant in scope."""
    from tenants.tenancy.service import current_zone

    return local_day(at or now(), await current_zone())
