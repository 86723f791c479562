"""The money ledger: journals of postings that sum to zero, and the balance of every account derived from them.

Postings are append-only (the application role cannot UPDATE or DELETE them); a correction is a reversing
journal. ``ledger_balance`` is kept by a database trigger on every posting, with a CHECK that accounts holding
money (bonds, subsidy pools, brand-project caps) never go below zero, so concurrent drawdowns cannot overdraw;
``tenants.ledger.service.verify`` recomputes every balance from the postings.
"""

from __future__ import annotations

from tortoise import fields

from tenants.models import TenantModel


class LedgerJournal(TenantModel):
    """One business event (an approved statement, a payment, a bond drawdown) with its idempotency key."""

    idempotency_key = fields.CharField(max_length=160)
    period = fields.CharField(max_length=8)  # 2026Q4, 2026-10 or 2026: the period the money belongs to
    reason = fields.CharField(max_length=500)
    source_kind = fields.CharField(max_length=32)  # settlement_statement, brand_project, bond_transaction, ...
    source_id = fields.BigIntField(null=True)
    author = fields.CharField(max_length=128)
    posted_at = fields.DatetimeField()
    reverses_id = fields.BigIntField(null=True)  # the journal this one reverses (at most once)

    class Meta:
        table = "ledger_journal"
        unique_together = (("tenant_id", "idempotency_key"), ("tenant_id", "reverses_id"))
        indexes = (("tenant_id", "source_kind", "source_id"),)


class LedgerPosting(TenantModel):
    """One amount on one account; the postings of a journal sum to zero (checked at commit)."""

    journal_id = fields.BigIntField()
    account = fields.CharField(max_length=96)  # kind:ref[:year], see tenants.ledger.accounts
    amount_fen = fields.BigIntField()

    class Meta:
        table = "ledger_posting"
        # An account's history is read newest first by id; a journal is read whole.
        indexes = (("tenant_id", "account", "id"), ("tenant_id", "journal_id"))


class LedgerBalance(TenantModel):
    """The running balance of an account, maintained by the database from the postings."""

    account = fields.CharField(max_length=96)
    balance_fen = fields.BigIntField(default=0)

    class Meta:
        table = "ledger_balance"
        unique_together = (("tenant_id", "account"),)
