"""Grid scores per month and grid workers' performance-pay statements (绩效工资) (issue 17 part D).

A ``GridScore`` is recomputed by every run of its month (``tenants.points.grids``); a ``PayStatement`` is
recomputed while it is a draft, frozen by a database trigger once approved (migration 0029), and corrected by a
new revision with a reason, the old one then superseded (``tenants.points.pay``).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class GridScore(TenantModel):
    """A grid's score for a month (0.00-100.00) with a breakdown whose lines add up to it exactly."""

    period_key = fields.CharField(max_length=8)  # the month, 2026-01 (tenant-local)
    grid_id = fields.BigIntField()
    community_id = fields.BigIntField()  # where the grid was when scored (the leaderboards roll up by these)
    street_id = fields.BigIntField()
    score = fields.DecimalField(max_digits=5, decimal_places=2)
    breakdown: dict = fields.JSONField()  # type: ignore[assignment]  # lines (hundredths) and the snapshot used
    config_version = fields.IntField(null=True)
    computed_at = fields.DatetimeField()
    computed_by = fields.CharField(max_length=128)

    class Meta:
        table = "grid_score"
        unique_together = (("tenant_id", "period_key", "grid_id"),)
        indexes = (("tenant_id", "period_key", "community_id"), ("tenant_id", "period_key", "score"))


class PayStatus(StrEnum):
    DRAFT = "draft"  # a re-run recomputes it
    APPROVED = "approved"  # frozen (a database trigger); goes to payroll
    PAID = "paid"  # handed to payroll (markPayStatementsPaid), with a reference
    SUPERSEDED = "superseded"  # replaced by a later revision (revisePayStatement)


class PayStatement(TenantModel):
    """A grid worker's performance pay for a month, in fen: base x the band of their grid's score, plus their own
    points at the configured rate, capped."""

    period_key = fields.CharField(max_length=8)
    person_id = fields.BigIntField()
    grid_id = fields.BigIntField()
    revision = fields.IntField(default=1)
    status = fields.CharEnumField(PayStatus, max_length=12, default=PayStatus.DRAFT)
    reason = fields.CharField(max_length=500, default="")  # why this revision was made (revisions after the first)
    supersedes_id = fields.BigIntField(null=True)
    grid_score = fields.DecimalField(max_digits=5, decimal_places=2)
    band_min_score = fields.IntField()
    band_percent = fields.IntField()
    base_fen = fields.BigIntField()  # the configured base
    base_part_fen = fields.BigIntField()  # base x band percent, half up to the fen
    points_earned = fields.BigIntField()  # the worker's own points earned in the month (never below 0 here)
    points_rate_fen = fields.BigIntField()
    points_part_fen = fields.BigIntField()  # points x rate, capped at points_cap_fen
    total_fen = fields.BigIntField()  # base part + points part, capped at cap_fen when that is > 0
    rule: dict = fields.JSONField()  # type: ignore[assignment]  # the configuration applied and the caps hit
    config_version = fields.IntField(null=True)
    computed_at = fields.DatetimeField()
    computed_by = fields.CharField(max_length=128)
    approved_at = fields.DatetimeField(null=True)
    approved_by = fields.CharField(max_length=128, null=True)
    paid_at = fields.DatetimeField(null=True)
    paid_by = fields.CharField(max_length=128, null=True)
    payment_reference = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "pay_statement"
        unique_together = (("tenant_id", "period_key", "person_id", "revision"),)
        # One current (not superseded) statement per worker and month: a partial unique index in 0029.
        indexes = (("tenant_id", "period_key", "status"), ("tenant_id", "person_id", "period_key"))
