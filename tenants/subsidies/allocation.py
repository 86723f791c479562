"""The 以奖代补 allocation rule, in exact arithmetic (pure: no database).

A community's pool for a settlement period is split into equal slots, one per compound on the statement. A
compound earns the share of its slot that its rating's band gives (``subsidies.bands``: from ``min_score`` up to
the next band); a compound without a rating earns nothing. The statement total is the exact sum of the earnings
rounded down to the fen, so it never exceeds the pool; the lines are the earnings rounded down, and the fen left
over go one each to the lines with the largest remainders (ties: the smaller compound id first) — the largest
remainder rule — so the lines add up exactly to the total.

A yearly pool is split over the periods of the cadence by the same rule (quarterly: four equal parts, an odd fen
going to the earlier quarters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction


@dataclass(frozen=True)
class Band:
    min_score: Decimal
    share_percent: int


@dataclass(frozen=True)
class Rated:
    """A compound on the statement and its rating for the period (None: not rated, earns nothing)."""

    compound_id: int
    score: Decimal | None


@dataclass(frozen=True)
class Allocation:
    compound_id: int
    score: Decimal | None
    band: Band | None
    quota: Fraction  # the exact earning in fen: slot x share
    amount_fen: int
    remainder_fen: bool  # whether this line received a fen of the remainder


def largest_remainder(quotas: Sequence[Fraction], total: int, order: Sequence[int] | None = None) -> list[int]:
    """Round ``quotas`` down and hand the ``total - sum`` fen left over, one each, to the largest remainders; ties
    go to the smaller key of ``order`` (default: the earlier position). ``total`` must lie between the sum of the
    floors and that sum plus the number of quotas."""
    floors = [math.floor(q) for q in quotas]
    left = total - sum(floors)
    if not 0 <= left <= len(quotas):
        raise ValueError(f"cannot round {len(quotas)} quotas to {total}")
    keys = order if order is not None else list(range(len(quotas)))
    ranked = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), keys[i]))
    for i in ranked[:left]:
        floors[i] += 1
    return floors


def split_evenly(total_fen: int, parts: int) -> list[int]:
    """``total_fen`` in ``parts`` equal parts to the fen; the odd fen go to the earlier parts."""
    if parts <= 0 or total_fen < 0:
        raise ValueError("split a non-negative amount into at least one part")
    return largest_remainder([Fraction(total_fen, parts)] * parts, total_fen)


def band_for(score: Decimal | None, bands: Sequence[Band]) -> Band | None:
    """The highest band whose ``min_score`` the score reaches (bands ascend); None below the first or unrated."""
    if score is None:
        return None
    found = None
    for band in bands:
        if score >= band.min_score:
            found = band
    return found


def allocate(pool_fen: int, compounds: Sequence[Rated], bands: Sequence[Band]) -> tuple[list[Allocation], int]:
    """The lines of one community's statement and their total (which never exceeds ``pool_fen``)."""
    if pool_fen < 0:
        raise ValueError("a pool is not negative")
    if not compounds:
        return [], 0
    slot = Fraction(pool_fen, len(compounds))
    chosen = [band_for(c.score, bands) for c in compounds]
    quotas = [slot * (b.share_percent if b else 0) / 100 for b in chosen]
    total = math.floor(sum(quotas, Fraction(0)))
    amounts = largest_remainder(quotas, total, [c.compound_id for c in compounds])
    lines = [
        Allocation(c.compound_id, c.score, b, q, a, a > math.floor(q))
        for c, b, q, a in zip(compounds, chosen, quotas, amounts, strict=True)
    ]
    return lines, total


def periods_of(year: int, cadence: str) -> list[str]:
    """The settlement periods of a year: ``2026`` (yearly) or ``2026Q1``..``2026Q4`` (quarterly)."""
    return [str(year)] if cadence == "yearly" else [f"{year}Q{q}" for q in range(1, 5)]


def period_pool(yearly_pool_fen: int, period_key: str, cadence: str) -> int:
    """The part of a yearly pool that a settlement period draws."""
    year = int(period_key[:4])
    keys = periods_of(year, cadence)
    if period_key not in keys:
        raise ValueError(f"{period_key!r} is not a {cadence} settlement period")
    return split_evenly(yearly_pool_fen, len(keys))[keys.index(period_key)]
