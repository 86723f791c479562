"""履约保证金: what happens to the bond of each property contract (the amounts live in the ledger) and the
top-ups a company owes when its bond falls below the required amount."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class BondKind(StrEnum):
    DEPOSIT = "deposit"  # the company pays in (a first deposit or a top-up)
    DRAWDOWN = "drawdown"  # the street draws on it for an emergency repair
    REFUND = "refund"  # returned at the contract's end


class BondTransaction(TenantModel):
    contract_id = fields.BigIntField()
    company_id = fields.BigIntField()
    kind = fields.CharEnumField(BondKind, max_length=10)
    amount_fen = fields.BigIntField()  # positive; the kind says which way
    balance_after_fen = fields.BigIntField()
    reason = fields.CharField(max_length=500, default="")
    reference = fields.CharField(max_length=128, default="")  # payment or receipt reference
    ticket_id = fields.BigIntField(null=True)  # the grievance ticket a repair answered
    journal_id = fields.BigIntField()
    actor = fields.CharField(max_length=128)
    at = fields.DatetimeField()

    class Meta:
        table = "bond_transaction"
        indexes = (("tenant_id", "contract_id", "at", "id"), ("tenant_id", "company_id", "id"))


class BondTopUp(TenantModel):
    """A top-up owed: opened when a drawdown leaves the balance below the required amount, settled when deposits
    bring it back; reminded before ``due_on`` and flagged late after it, once each."""

    contract_id = fields.BigIntField()
    company_id = fields.BigIntField()
    required_fen = fields.BigIntField()
    shortfall_fen = fields.BigIntField()  # when opened
    opened_at = fields.DatetimeField()
    due_on = fields.DateField()  # tenant-local date
    reminded_at = fields.DatetimeField(null=True)
    late_at = fields.DatetimeField(null=True)
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bond_top_up"
        indexes = (("tenant_id", "contract_id", "opened_at"), ("tenant_id", "settled_at", "due_on"))
