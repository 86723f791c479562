"""The money of brand projects on the ledger: the year's cap funded once, awards within it, payments."""

from __future__ import annotations

from datetime import date, datetime

from tenants.brand.errors import BrandCapExceeded, yuan
from tenants.brand.models import BrandProject
from tenants.config.service import effective_config
from tenants.ledger import accounts
from tenants.ledger import service as ledger
from tenants.ledger.models import LedgerJournal

SOURCE = "brand_project"


async def fund_cap(year: int, *, actor: str, at: datetime) -> None:
    """Move the year's cap (the configuration in force on 1 January) from the brand fund to the cap, once."""
    key = f"brand_cap:{year}"
    if await LedgerJournal.filter(idempotency_key=key).exists():
        return  # funded already, whatever the configuration says today
    cap = (await effective_config(date(year, 1, 1))).document.subsidies.brand_projects.yearly_cap_fen
    if cap <= 0:
        return
    await ledger.post(
        key=key,
        legs=[ledger.Leg(accounts.brand_fund(year), -cap), ledger.Leg(accounts.brand_cap(year), cap)],
        period=str(year),
        reason=f"{year} 年度品牌项目奖补上限 {yuan(cap)} 元",
        source_kind="brand_cap",
        source_id=year,
        author=actor,
        now=at,
    )


async def award(project: BrandProject, amount_fen: int, *, actor: str, at: datetime) -> int:
    """Move an award from the year's cap to the community's payable; returns what remains of the cap.

    The cap's balance row is locked first, so concurrent awards of a year queue here and each sees what the one
    before left; ``BRAND_CAP_EXCEEDED`` names the remainder. The database CHECK (``InsufficientBalance``) is the
    backstop."""
    await fund_cap(project.year, actor=actor, at=at)
    cap = accounts.brand_cap(project.year)
    remaining = await ledger.balance(cap, for_update=True)
    if amount_fen > remaining:
        raise BrandCapExceeded(project.year, remaining, amount_fen)
    await ledger.post(
        key=f"brand:{project.id}:award",
        legs=[ledger.Leg(cap, -amount_fen), ledger.Leg(accounts.brand_payable(project.community_id), amount_fen)],
        period=str(project.year),
        reason=f"品牌项目“{project.title}”验收通过，奖补 {yuan(amount_fen)} 元",
        source_kind=SOURCE,
        source_id=project.id,
        author=actor,
        now=at,
    )
    return remaining - amount_fen


async def pay(project: BrandProject, amount_fen: int, reference: str, *, actor: str, at: datetime) -> None:
    """Move a paid award from the community's payable to its paid account."""
    await ledger.post(
        key=f"brand:{project.id}:pay",
        legs=[
            ledger.Leg(accounts.brand_payable(project.community_id), -amount_fen),
            ledger.Leg(accounts.brand_paid(project.community_id), amount_fen),
        ],
        period=str(project.year),
        reason=f"品牌项目“{project.title}”奖补拨付，凭证号 {reference}",
        source_kind=SOURCE,
        source_id=project.id,
        author=actor,
        now=at,
    )
