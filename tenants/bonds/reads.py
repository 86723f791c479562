"""Reading bonds 履约保证金: the required amount, the balance the ledger keeps, the open top-up, the history.

Every read is set-based: a page of contracts takes one query for the page, one for their compounds, one for their
balances and one for their open top-ups, whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.expressions import RawSQL, Subquery
from tortoise.queryset import QuerySet

from tenants import clock
from tenants.bonds.access import readable, require_reader
from tenants.bonds.models import BondTopUp, BondTransaction
from tenants.config.service import effective_config
from tenants.errors import NotFound
from tenants.ledger import accounts
from tenants.ledger.models import LedgerBalance
from tenants.ledger.service import balances
from tenants.paging import BY_ID, Link, Page, Window, by_id, newest_first, page_with
from tenants.scope import scoped_transaction
from tenants.territory.access import Access, readable_compounds
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyContract


def required_fen(annual_fee_fen: int, ratio_percent: int) -> int:
    """The required bond 应缴保证金 of a contract: ``ceil(ratio_percent × annual_fee_fen / 100)`` fen.

    The ratio is ``bonds.ratio_percent`` of the configuration in force on the day asked about (5%-10% of the
    year's property fee receivable); the result is rounded up to a whole fen so that rounding never leaves a bond
    short. 临沭 (5%) on a fee of 12,000,000 fen (120,000 CNY) a year: 600,000 fen (6,000 CNY).
    """
    return -(-ratio_percent * annual_fee_fen // 100)


@dataclass(frozen=True)
class Bond:
    """One contract's bond as of ``on`` (tenant-local date): required, held, short, and the top-up owed."""

    contract: PropertyContract
    compound: Compound
    ratio_percent: int
    required_fen: int
    balance_fen: int
    top_up: BondTopUp | None  # the open one, if any
    on: date

    @property
    def shortfall_fen(self) -> int:
        return max(0, self.required_fen - self.balance_fen)


async def states(contracts: Sequence[PropertyContract], *, on: date) -> list[Bond]:
    """The bonds of ``contracts`` (in their order) with the configuration in force on ``on``."""
    if not contracts:
        return []
    ratio = int((await effective_config(on)).document.bonds.ratio_percent)
    ids = [c.id for c in contracts]
    compounds = {k.id: k for k in await Compound.filter(id__in=sorted({c.compound_id for c in contracts}))}
    held = await balances([accounts.bond(i) for i in ids])
    open_top_ups = {t.contract_id: t for t in await BondTopUp.filter(contract_id__in=ids, settled_at=None)}
    return [
        Bond(
            contract=c,
            compound=compounds[c.compound_id],
            ratio_percent=ratio,
            required_fen=required_fen(c.annual_fee_fen, ratio),
            balance_fen=held[accounts.bond(c.id)],
            top_up=open_top_ups.get(c.id),
            on=on,
        )
        for c in contracts
    ]


async def contract_in_scope(access: Access, contract_id: int) -> tuple[PropertyContract, Compound]:
    """A contract whose bond the caller may read; NOT_FOUND otherwise (no existence leak)."""
    require_reader(access)
    contract = await readable(access).filter(id=contract_id).first()
    compound = await Compound.get_or_none(id=contract.compound_id) if contract else None
    if contract is None or compound is None:
        raise NotFound(f"物业合同 {contract_id} 不存在", f"contract {contract_id} does not exist", field="contractId")
    return contract, compound


async def get_bond(*, access: Access, contract_id: int, now: datetime | None = None) -> Bond:
    async with scoped_transaction():
        contract, _ = await contract_in_scope(access, contract_id)
        return (await states([contract], on=await clock.today(now)))[0]


async def list_bonds(
    *,
    access: Access,
    window: Window,
    company_id: int | None = None,
    street_id: int | None = None,
    below_required: bool | None = None,
    late: bool | None = None,
    now: datetime | None = None,
) -> Page[Bond]:
    """A window of the bonds in scope by contract id. ``below_required``: the balance is under (True) or at least
    (False) the required amount of today's configuration; ``late``: an open top-up is (True) or is not (False)
    flagged late."""
    require_reader(access)
    async with scoped_transaction():
        on = await clock.today(now)
        qs, _ = await _filtered(access, on, company_id, street_id, below_required, late)
        got = await by_id(qs, window)
        return got.with_rows(await states(got.rows, on=on))


async def _filtered(
    access: Access, on: date, company_id: int | None, street_id: int | None, below_required: bool | None,
    late: bool | None,
) -> tuple[QuerySet[PropertyContract], int]:
    """The contracts in scope, filtered, and the ratio of the configuration in force on ``on``."""
    ratio = int((await effective_config(on)).document.bonds.ratio_percent)
    qs = readable(access)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    if street_id is not None:
        qs = qs.filter(compound_id__in=Subquery(Compound.filter(street_id=street_id).values("id")))
    if below_required is not None:
        qs = qs.annotate(short=RawSQL(_SHORT.format(ratio=ratio))).filter(short=below_required)
    if late is not None:
        flagged = Subquery(BondTopUp.filter(settled_at=None, late_at__not_isnull=True).values("contract_id"))
        qs = qs.filter(id__in=flagged) if late else qs.exclude(id__in=flagged)
    return qs, ratio


async def list_bonds_with(
    *,
    access: Access,
    window: Window,
    company_id: int | None = None,
    street_id: int | None = None,
    below_required: bool | None = None,
    late: bool | None = None,
    compound: bool = False,
    now: datetime | None = None,
) -> Page[tuple[Bond, Compound | None]]:
    """``list_bonds`` in one statement: the page with each contract's compound, balance and open top-up, and
    (``compound``) its compound as the caller reads it (None: one it does not read)."""
    require_reader(access)
    async with scoped_transaction():
        on = await clock.today(now)
        qs, ratio = await _filtered(access, on, company_id, street_id, below_required, late)
        links = {
            "compound": Link(Compound, "x.id = p.compound_id"),
            "balance": Link(LedgerBalance, "x.account = 'bond:' || p.id::text"),
            "top_up": Link(BondTopUp, "x.contract_id = p.id AND x.settled_at IS NULL"),
        }
        if compound:
            links["readable_compound"] = Link(Compound, "x.id = p.compound_id", readable_compounds(access))
        got = await page_with(qs, BY_ID, window, links)
        return got.with_rows([
            (
                Bond(
                    contract=c,
                    compound=linked["compound"],
                    ratio_percent=ratio,
                    required_fen=required_fen(c.annual_fee_fen, ratio),
                    balance_fen=linked["balance"].balance_fen if linked["balance"] is not None else 0,
                    top_up=linked["top_up"],
                    on=on,
                ),
                linked.get("readable_compound"),
            )
            for c, linked in got.rows
        ])


# The bond's balance (none posted yet: 0) is under the required amount of the ratio in force (an int).
_SHORT = (
    "(COALESCE((SELECT b.balance_fen FROM ledger_balance b WHERE b.tenant_id = property_contract.tenant_id"
    " AND b.account = 'bond:' || property_contract.id::text), 0)"
    " < CEIL({ratio}::numeric * property_contract.annual_fee_fen / 100))"
)


async def history(
    *, access: Access, contract_id: int, window: Window
) -> Page[BondTransaction]:
    """A window of a contract's deposits, drawdowns and refunds, newest first (keyset on at, id)."""
    async with scoped_transaction():
        contract, _ = await contract_in_scope(access, contract_id)
        return await newest_first(BondTransaction.filter(contract_id=contract.id), window, time_field="at")
