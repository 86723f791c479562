"""Periods: months (2026-10) and quarters (2026Q4), in the tenant's time zone (assessment, settlement, bonds)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tenants.errors import InvalidInput, Problem

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])\Z")


FIRST_YEAR, LAST_YEAR = 1900, 2999


def check_year(year: int, field: str) -> None:
    """Periods lie in years the calendar and the database handle (and a person would mean)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput.of(
            [
                Problem(
                    field,
                    "out_of_range",
                    f"年份须在 {FIRST_YEAR} 到 {LAST_YEAR} 之间，实为 {year}",
                    f"the year must be between {FIRST_YEAR} and {LAST_YEAR}, got {year}",
                )
            ]
        )


def bounds(period_key: str, field: str = "period") -> tuple[date, date]:
    """First and last day (inclusive) of a period key."""
    if (m := _MONTH.match(period_key) or _QUARTER.match(period_key)) is not None:
        check_year(int(m[1]), field)
    if m := _MONTH.match(period_key):
        year, month = int(m[1]), int(m[2])
        start = date(year, month, 1)
        end = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        return start, end
    if m := _QUARTER.match(period_key):
        year, q = int(m[1]), int(m[2])
        start = date(year, 3 * q - 2, 1)
        end = date(year + (q == 4), (3 * q) % 12 + 1, 1) - timedelta(days=1)
        return start, end
    raise InvalidInput.of(
        [
            Problem(
                field,
                "format",
                "期间须为 2026-10 或 2026Q4 的形式",
                "a period looks like 2026-10 (month) or 2026Q4 (quarter)",
            )
        ]
    )


def month_bounds(month_key: str, field: str = "month") -> tuple[date, date]:
    """First and last day of a month key (2026-01) and nothing else: a quarter or anything else is INVALID_INPUT."""
    m = _MONTH.match(month_key)
    if m is None:
        raise InvalidInput.of([Problem(field, "format", "月份须为 2026-01 的形式", "a month looks like 2026-01")])
    return bounds(month_key, field)


def period_problems(period_key: str, field: str) -> list[Problem]:
    """The problems of a period key (format, year), for inputs that list every problem at once."""
    try:
        bounds(period_key, field)
    except InvalidInput as exc:
        return exc.problems
    return []


def months(period_key: str) -> int:
    return 3 if "Q" in period_key else 1


def key_for(day: date, cadence: str) -> str:
    """The period (of the given cadence) that contains ``day``."""
    if cadence == "quarterly":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def previous_key(day: date, cadence: str) -> str:
    """The last complete period before the one containing ``day``."""
    start, _ = bounds(key_for(day, cadence))
    return key_for(start - timedelta(days=1), cadence)


def closes(period_key: str, cadence: str) -> bool:
    """Whether a rating period ends a period of ``cadence`` (a monthly rating in March closes the quarter)."""
    _, end = bounds(period_key)
    if cadence == "quarterly":
        return end.month in (3, 6, 9, 12)
    if cadence == "yearly":
        return end.month == 12
    return True


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)
