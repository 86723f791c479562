"""以奖代补 settlement statements: one per (period, community), with a line per compound and its payee."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class StatementStatus(StrEnum):
    DRAFT = "draft"  # a re-run replaces it
    APPROVED = "approved"  # frozen (a database trigger refuses changes to it and its lines); posted to the ledger
    PAID = "paid"  # with a payment reference


class LineKind(StrEnum):
    RATING = "rating"  # the period's own allocation from a compound's rating
    ADJUSTMENT = "adjustment"  # a correction of an earlier, approved period (its ratings were revised)


class SettlementStatement(TenantModel):
    period_key = fields.CharField(max_length=8)  # 2026Q4 (quarterly) or 2026 (yearly)
    community_id = fields.BigIntField()
    status = fields.CharEnumField(StatementStatus, max_length=8, default=StatementStatus.DRAFT)
    pool_fen = fields.BigIntField()  # the community's pool for this period
    total_fen = fields.BigIntField()  # sum of the lines (adjustments included)
    config_version = fields.IntField(null=True)
    rule: dict = fields.JSONField()  # type: ignore[assignment]  # bands, cadence, rounding rule as applied
    basis: dict = fields.JSONField()  # type: ignore[assignment]  # rating period -> published revision used
    computed_at = fields.DatetimeField()
    computed_by = fields.CharField(max_length=128)
    approved_at = fields.DatetimeField(null=True)
    approved_by = fields.CharField(max_length=128, null=True)
    paid_at = fields.DatetimeField(null=True)
    paid_by = fields.CharField(max_length=128, null=True)
    payment_reference = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "settlement_statement"
        unique_together = (("tenant_id", "period_key", "community_id"),)
        indexes = (("tenant_id", "community_id", "period_key"), ("tenant_id", "status", "period_key"))


class SettlementLine(TenantModel):
    statement_id = fields.BigIntField()
    position = fields.IntField()  # order on the statement
    kind = fields.CharEnumField(LineKind, max_length=12, default=LineKind.RATING)
    for_period = fields.CharField(max_length=8)  # the period this line pays for (earlier ones for adjustments)
    compound_id = fields.BigIntField()
    company_id = fields.BigIntField()  # the payee
    score = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    band_min_score = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    share_percent = fields.IntField(null=True)
    rule = fields.CharField(max_length=500)  # the rule in words, Chinese then English
    amount_fen = fields.BigIntField()
    detail: dict = fields.JSONField(default=dict)  # type: ignore[assignment]  # exact quota, remainder, bases

    class Meta:
        table = "settlement_line"
        unique_together = (("tenant_id", "statement_id", "position"),)
        indexes = (("tenant_id", "company_id", "statement_id"), ("tenant_id", "for_period", "compound_id"))
