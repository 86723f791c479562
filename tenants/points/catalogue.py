"""The points catalogue 积分兑换目录: the tenant's configured redemptions, with the stock left and what the caller
has left of each monthly limit (tenant-local month)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tortoise.functions import Count

from tenants import clock
from tenants.config.document import Points, Redemption
from tenants.errors import InvalidInput, Problem
from tenants.permissions import require
from tenants.points.config import points_config
from tenants.points.voucher_access import own_person
from tenants.points.voucher_models import RedemptionStock, Voucher, VoucherStatus
from tenants.territory.access import Access

# Vouchers that count against stock and monthly limits: a cancelled or expired one gives its place back.
LIVE = (VoucherStatus.ISSUED, VoucherStatus.USED)


@dataclass(frozen=True)
class Item:
    redemption: Redemption
    stock_left: int | None  # None: unlimited
    monthly_left: int | None  # None: no limit (or no person behind the caller)
    available: bool  # inside its validity window today


def month_start(day: date) -> date:
    return day.replace(day=1)


def find(points: Points, code: str) -> Redemption:
    for item in points.redemptions:
        if item.code == code:
            return item
    raise InvalidInput.of(
        [Problem("redemption", "unknown", f"兑换项目 {code} 不存在", f"no redemption {code!r} in the catalogue")]
    )


async def taken(codes: list[str]) -> dict[str, int]:
    rows = await RedemptionStock.filter(redemption_code__in=codes).values_list("redemption_code", "taken")
    return dict(rows)  # type: ignore[arg-type]


async def used_this_month(person_id: int, day: date, codes: list[str]) -> dict[str, int]:
    """How many live vouchers of each code the person took this tenant-local month."""
    rows = (
        await Voucher.filter(
            person_id=person_id, redemption_code__in=codes, issued_on__gte=month_start(day), issued_on__lte=day,
            status__in=LIVE,
        )
        .annotate(n=Count("id"))
        .group_by("redemption_code")
        .values_list("redemption_code", "n")
    )
    return dict(rows)  # type: ignore[arg-type]


def in_window(item: Redemption, day: date) -> bool:
    return (item.valid_from is None or item.valid_from <= day) and (item.valid_until is None or day <= item.valid_until)


async def catalogue(*, access: Access, now: datetime | None = None) -> list[Item]:
    """Every redemption of the tenant's configuration, in its order."""
    require(access, "points.catalogue")
    day = await clock.today(now)
    points = await points_config(day, field="redemption")
    codes = [r.code for r in points.redemptions]
    out_now = await taken(codes)
    person = await own_person(access).first()
    mine = await used_this_month(person.id, day, codes) if person else {}
    return [
        Item(
            r,
            None if r.stock is None else max(r.stock - out_now.get(r.code, 0), 0),
            None if r.monthly_limit is None or person is None else max(r.monthly_limit - mine.get(r.code, 0), 0),
            in_window(r, day),
        )
        for r in points.redemptions
    ]
