"""The money of brand projects on the ledger: the year's cap funded at award time, awards within it, payments."""

from __future__ import annotations

from datetime import date, datetime

from tenants.brand.errors import BrandCapExceeded, yuan
from tenants.brand.models import BrandProject
from tenants.config.service import effective_config
from tenants.ledger import accounts
from tenants.ledger import service as ledger

SOURCE = "brand_project"
CAP_SOURCE = "brand_cap"


def cap_day(year: int, day: date) -> date:
    """The day whose configuration sets ``year``'s cap: ``day`` itself, kept within the year (an award made in
    January for the year before takes the configuration of 31 December)."""
    return min(max(day, date(year, 1, 1)), date(year, 12, 31))


async def configured_cap(year: int, day: date) -> int:
    """The yearly cap the configuration in force on ``day`` (kept within ``year``) grants. ``enabled`` governs
    declarations only: projects already running are awarded under the cap configured."""
    return (await effective_config(cap_day(year, day))).document.subsidies.brand_projects.yearly_cap_fen


def _cap_key(year: int) -> str:
    return f"{CAP_SOURCE}:{year}"


async def funded(year: int) -> int:
    """What the year's fundings (the first one and any top-ups) moved into the cap account."""
    return await ledger.funded(_cap_key(year), accounts.brand_cap(year))


async def fund_cap(year: int, day: date, *, actor: str, at: datetime) -> int:
    """Fund the year's cap from the brand fund up to the cap configured on ``day``; returns the cap funded.

    The first award of a year funds the cap configured on its date (key ``brand_cap:<year>``); a later award
    tops it up when the configuration in force on its date grants more (key ``brand_cap:<year>:<new cap>``,
    the difference only). A lowered cap never takes money back: awards may already have drawn on it, so the
    year's cap is the highest one configured on the date of any of its awards (``ledger.fund_up_to``)."""

    def reason(cap: int, already: int) -> str:
        text = f"{year} 年度品牌项目奖补上限 {yuan(cap)} 元"
        return text + (f"（上限提高，追加 {yuan(cap - already)} 元）" if already else "")

    return await ledger.fund_up_to(
        key=_cap_key(year),
        source_account=accounts.brand_fund(year),
        account=accounts.brand_cap(year),
        target=await configured_cap(year, day),
        period=str(year),
        reason=reason,
        source_kind=CAP_SOURCE,
        source_id=year,
        author=actor,
        now=at,
    )


async def award(project: BrandProject, amount_fen: int, *, on: date, actor: str, at: datetime) -> int:
    """Move an award made on ``on`` (tenant-local) from the year's cap to the community's payable; returns what
    remains of the cap.

    The cap is funded (or topped up) first from the configuration in force on ``on``. The cap's balance row is
    then locked, so concurrent awards of a year queue here and each sees what the one before left;
    ``BRAND_CAP_EXCEEDED`` names the remainder. The database CHECK (``InsufficientBalance``) is the backstop."""
    await fund_cap(project.year, on, actor=actor, at=at)
    cap = accounts.brand_cap(project.year)
    remaining = await ledger.balance(cap, for_update=True)
    if amount_fen > remaining:
        raise BrandCapExceeded(project.year, remaining, amount_fen)
    await _post(
        project,
        "award",
        ledger.Leg(cap, -amount_fen),
        ledger.Leg(accounts.brand_payable(project.community_id), amount_fen),
        reason=f"品牌项目“{project.title}”验收通过，奖补 {yuan(amount_fen)} 元",
        actor=actor,
        at=at,
    )
    return remaining - amount_fen


async def pay(project: BrandProject, amount_fen: int, reference: str, *, actor: str, at: datetime) -> None:
    """Move a paid award from the community's payable to its paid account."""
    await _post(
        project,
        "pay",
        ledger.Leg(accounts.brand_payable(project.community_id), -amount_fen),
        ledger.Leg(accounts.brand_paid(project.community_id), amount_fen),
        reason=f"品牌项目“{project.title}”奖补拨付，凭证号 {reference}",
        actor=actor,
        at=at,
    )


async def _post(project: BrandProject, step: str, *legs: ledger.Leg, reason: str, actor: str, at: datetime) -> None:
    """A project's ledger entry for ``step``: once per project and step, in the project's year."""
    await ledger.post(
        key=f"brand:{project.id}:{step}",
        legs=list(legs),
        period=str(project.year),
        reason=reason,
        source_kind=SOURCE,
        source_id=project.id,
        author=actor,
        now=at,
    )
