"""Performance bonds 履约保证金: balances, top-ups owed, histories; deposits, drawdowns and refunds."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from api.compiled import compiled
from api.context import Info
from api.ids import opt_id, to_id
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection, node_fields
from api.rows import Node, from_row
from api.territory.types import CompoundType, _load
from tenants.bonds import access as bond_access
from tenants.bonds import reads
from tenants.bonds import service as bonds
from tenants.bonds.models import BondKind as _Kind

BondKind = strawberry.enum(Enum("BondKind", {k.name: k.value for k in _Kind}), name="BondKind")


@strawberry.type(
    name="BondTopUp",
    description="A top-up the company owes: its bond holds less than required (a drawdown, never paid in, a raise).",
)
class BondTopUpType(Node):
    readable = staticmethod(bond_access.readable_top_ups)
    required_fen: Fen = strawberry.field(description="The required amount when it was opened, in fen.")
    shortfall_fen: Fen = strawberry.field(description="What was missing when it was opened, in fen.")
    opened_at: datetime
    due_on: date = strawberry.field(description="Tenant-local day by which the bond is to be topped up.")
    reminded_at: datetime | None
    late_at: datetime | None
    settled_at: datetime | None

    @strawberry.field(description="Flagged late: the due day passed before the bond was topped up.")
    def late(self) -> bool:
        return self.late_at is not None


@strawberry.type(name="Bond", description="履约保证金: a property contract's performance bond, held by the street.")
class BondType:
    contract_id: strawberry.ID
    company_id: strawberry.ID
    compound_id: strawberry.ID
    street_id: strawberry.ID
    starts_on: date
    ends_on: date
    annual_fee_fen: Fen = strawberry.field(description="Annual property fee receivable, in fen (分).")
    ratio_percent: int = strawberry.field(description="bonds.ratioPercent of the configuration in force today.")
    required_fen: Fen = strawberry.field(description="ceil(ratioPercent × annualFeeFen / 100), in fen.")
    balance_fen: Fen = strawberry.field(description="What the street holds, from the ledger, in fen.")
    shortfall_fen: Fen = strawberry.field(description="max(0, requiredFen - balanceFen), in fen.")
    top_up: BondTopUpType | None = strawberry.field(description="The open top-up, if the company owes one.")
    compound_pk: strawberry.Private[int]
    # The compound as the caller reads it, read with the page (``reads.list_bonds_with``): a plain value.
    read_compound: strawberry.Private[tuple[Any] | None]

    @strawberry.field
    def compound(self, info: Info) -> CompoundType | None:
        if self.read_compound is not None:
            row = self.read_compound[0]
            return None if row is None else CompoundType.of(row)  # type: ignore[no-any-return]
        return _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]

    @classmethod
    def with_compound(cls, row: tuple[reads.Bond, Any]) -> BondType:
        return cls.of(row[0], (row[1],))

    @classmethod
    def of(cls, b: reads.Bond, read_compound: tuple[Any] | None = None) -> BondType:
        c = b.contract
        return from_row(
            cls,
            b,
            contract_id=strawberry.ID(str(c.id)),
            company_id=strawberry.ID(str(c.company_id)),
            compound_id=strawberry.ID(str(c.compound_id)),
            street_id=strawberry.ID(str(b.compound.street_id)),
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            annual_fee_fen=c.annual_fee_fen,
            top_up=BondTopUpType.of(b.top_up) if b.top_up else None,
            compound_pk=c.compound_id,
            read_compound=read_compound,
        )


@strawberry.type(name="BondTransaction", description="A deposit, drawdown or refund of a bond.")
class BondTransactionType(Node):
    readable = staticmethod(bond_access.readable_transactions)
    contract_id: strawberry.ID
    company_id: strawberry.ID
    kind: BondKind  # type: ignore[valid-type]
    amount_fen: Fen = strawberry.field(description="Positive; the kind says which way, in fen.")
    balance_after_fen: Fen
    reason: str
    reference: str = strawberry.field(description="Receipt or payment reference of a deposit.")
    ticket_id: strawberry.ID | None = strawberry.field(description="The ticket a drawdown's repair answered.")
    journal_id: strawberry.ID
    actor: str
    at: datetime


@strawberry.type
class BondChange:
    transaction: BondTransactionType
    bond: BondType
    replayed: bool = strawberry.field(description="A retried request (same idempotencyKey): nothing new was posted.")

    @classmethod
    def of(cls, c: bonds.Change) -> BondChange:
        return cls(transaction=BondTransactionType.of(c.transaction), bond=BondType.of(c.bond), replayed=c.replayed)


@strawberry.input
class BondFilter:
    company_id: strawberry.ID | None = None
    street_id: strawberry.ID | None = None
    below_required: bool | None = strawberry.field(
        default=None, description="true: balance under the required amount; false: at or above it."
    )
    late: bool | None = strawberry.field(default=None, description="true: an open top-up is flagged late.")


_KEY = "Client-chosen key: a retried request with the same key posts nothing twice."


@strawberry.input
class DepositBondInput:
    contract_id: strawberry.ID
    amount_fen: Fen
    reference: str = strawberry.field(description="Receipt number 收据编号.")
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY)


@strawberry.input
class DrawDownBondInput:
    contract_id: strawberry.ID
    amount_fen: Fen
    reason: str
    ticket_id: strawberry.ID | None = strawberry.field(
        default=None, description="The grievance ticket on the same compound the repair answers."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY)


@strawberry.input
class RefundBondInput:
    contract_id: strawberry.ID
    amount_fen: Fen | None = strawberry.field(default=None, description="Defaults to the whole balance.")
    reason: str = strawberry.field(default="", description="Required before the contract's end (tenant admin).")
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY)


@strawberry.type
class BondQuery:
    @strawberry.field(description="A contract's bond: required amount, balance, shortfall and the open top-up.")
    async def bond(self, info: Info, contract_id: strawberry.ID) -> BondType:
        access = await info.context.access()
        return BondType.of(await reads.get_bond(access=access, contract_id=to_id(contract_id, "contractId")))

    @strawberry.field(description="Bonds in your scope, by contract.")
    async def bonds(
        self, info: Info, filter: BondFilter | None = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> Connection[BondType]:
        access = await info.context.access()
        f = filter or BondFilter()
        company_id = opt_id(f.company_id, "filter.companyId")
        street_id = opt_id(f.street_id, "filter.streetId")
        selected = node_fields(info)
        if selected:  # the page with its compounds, balances and top-ups in one statement
            return await compiled(info, await connection(
                info,
                lambda w: reads.list_bonds_with(
                    access=access, window=w, company_id=company_id, street_id=street_id,
                    below_required=f.below_required, late=f.late, compound="compound" in selected,
                ),
                BondType.with_compound,
                first=first, after=after, last=last, before=before,
            ))
        return await connection(
            info,
            lambda w: reads.list_bonds(
                access=access, window=w, company_id=company_id, street_id=street_id,
                below_required=f.below_required, late=f.late,
            ),
            BondType.of,
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="A contract's deposits, drawdowns and refunds, newest first.")
    async def bond_history(
        self, info: Info, contract_id: strawberry.ID, first: First = None, after: After = None,
        last: Last = None, before: Before = None
    ) -> Connection[BondTransactionType]:
        access = await info.context.access()
        cid = to_id(contract_id, "contractId")
        return await connection(
            info, lambda w: reads.history(access=access, contract_id=cid, window=w), BondTransactionType.of,
            first=first, after=after, last=last, before=before
        )


@strawberry.type
class BondMutation:
    @strawberry.mutation(description="The company pays into its bond (a deposit or a top-up), with the receipt no.")
    async def deposit_bond(self, info: Info, input: DepositBondInput) -> BondChange:
        change = await bonds.deposit(
            **await info.context.acting(),
            contract_id=to_id(input.contract_id, "contractId"),
            amount_fen=input.amount_fen,
            reference=input.reference,
            idempotency_key=input.idempotency_key,
        )
        return BondChange.of(change)

    @strawberry.mutation(description="The street draws on a bond for an emergency repair the company failed to do.")
    async def draw_down_bond(self, info: Info, input: DrawDownBondInput) -> BondChange:
        change = await bonds.draw_down(
            **await info.context.acting(),
            contract_id=to_id(input.contract_id, "contractId"),
            amount_fen=input.amount_fen,
            reason=input.reason,
            ticket_id=opt_id(input.ticket_id, "ticketId"),
            idempotency_key=input.idempotency_key,
        )
        return BondChange.of(change)

    @strawberry.mutation(description="Return a bond to the company at the contract's end (early: tenant admin).")
    async def refund_bond(self, info: Info, input: RefundBondInput) -> BondChange:
        change = await bonds.refund(
            **await info.context.acting(),
            contract_id=to_id(input.contract_id, "contractId"),
            amount_fen=input.amount_fen,
            reason=input.reason,
            idempotency_key=input.idempotency_key,
        )
        return BondChange.of(change)
