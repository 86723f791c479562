"""Assessment rounds, body submissions, supervisors' findings, rating snapshots and interviews."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class RoundStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AssessmentRound(TenantModel):
    """One period's assessment (a month or a quarter, per configuration) with a submission deadline."""

    period_key = fields.CharField(max_length=8)  # 2026-10 or 2026Q4
    starts_on = fields.DateField()
    ends_on = fields.DateField()  # inclusive
    deadline = fields.DatetimeField()
    status = fields.CharEnumField(RoundStatus, max_length=8, default=RoundStatus.OPEN)
    config_version = fields.IntField(null=True)
    opened_by = fields.CharField(max_length=128)
    opened_at = fields.DatetimeField()

    class Meta:
        table = "assessment_round"
        unique_together = (("tenant_id", "period_key"),)


class ScoreSubmission(TenantModel):
    """A body's scores for one compound in a round. Submitted once and locked; a correction is a new revision
    (with its reason), and the latest revision counts. The application role cannot update or delete these."""

    round_id = fields.BigIntField()
    compound_id = fields.BigIntField()
    body_code = fields.CharField(max_length=64)
    revision = fields.IntField(default=1)
    scores: dict = fields.JSONField()  # type: ignore[assignment]  # item code -> points
    notes: dict = fields.JSONField(default=dict)  # type: ignore[assignment]  # item code -> note
    reason = fields.CharField(max_length=500, default="")
    submitted_by = fields.CharField(max_length=128)
    submitted_at = fields.DatetimeField()
    # Entered by a tenant admin from a paper sheet after the round's deadline (a county that starts mid-year).
    late_entry = fields.BooleanField(default=False)

    class Meta:
        table = "score_submission"
        unique_together = (("tenant_id", "round_id", "compound_id", "body_code", "revision"),)


class SupervisorFinding(TenantModel):
    """A community supervisor's finding 小区监督员发现的问题 against a compound."""

    compound_id = fields.BigIntField()
    description = fields.TextField()
    photo_url = fields.CharField(max_length=500, default="")
    found_at = fields.DatetimeField()
    resolve_by = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)
    recorded_by = fields.CharField(max_length=128)

    class Meta:
        table = "supervisor_finding"
        indexes = (("tenant_id", "compound_id", "found_at"), ("tenant_id", "found_at"))


class SnapshotStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class RatingSnapshot(TenantModel):
    """The ratings of a period. A draft is recomputed by each run; a published one never changes: a correction is
    a new revision with a reason, and the old one stays readable."""

    period_key = fields.CharField(max_length=8)
    revision = fields.IntField(default=1)
    status = fields.CharEnumField(SnapshotStatus, max_length=12, default=SnapshotStatus.DRAFT)
    reason = fields.CharField(max_length=500, default="")
    config_version = fields.IntField(null=True)
    computed_at = fields.DatetimeField()
    published_at = fields.DatetimeField(null=True)
    published_by = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "rating_snapshot"
        unique_together = (("tenant_id", "period_key", "revision"),)


class CompoundRating(TenantModel):
    snapshot_id = fields.BigIntField()
    compound_id = fields.BigIntField()
    company_id = fields.BigIntField()
    score = fields.DecimalField(max_digits=5, decimal_places=2)
    body_part = fields.DecimalField(max_digits=5, decimal_places=2)
    objective_part = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    deductions = fields.DecimalField(max_digits=5, decimal_places=2)
    rank = fields.IntField()
    breakdown: dict = fields.JSONField()  # type: ignore[assignment]

    class Meta:
        table = "compound_rating"
        unique_together = (("tenant_id", "snapshot_id", "compound_id"),)
        indexes = (("tenant_id", "snapshot_id", "rank"),)


class ListMark(StrEnum):
    COMMENDED = "commended"  # 红榜
    INTERVIEWED = "interviewed"  # 黑榜: to be interviewed 约谈
    NONE = "none"


class CompanyRating(TenantModel):
    snapshot_id = fields.BigIntField()
    company_id = fields.BigIntField()
    score = fields.DecimalField(max_digits=5, decimal_places=2)
    rank = fields.IntField()
    star = fields.BooleanField(default=False)  # 服务之星
    mark = fields.CharEnumField(ListMark, max_length=12, default=ListMark.NONE)
    breakdown: dict = fields.JSONField()  # type: ignore[assignment]

    class Meta:
        table = "company_rating"
        unique_together = (("tenant_id", "snapshot_id", "company_id"),)
        indexes = (("tenant_id", "company_id", "snapshot_id"), ("tenant_id", "snapshot_id", "rank"))


class Interview(TenantModel):
    """约谈: a meeting with a firm on the black list, and what came of it."""

    company_id = fields.BigIntField()
    period_key = fields.CharField(max_length=8)
    held_on = fields.DateField()
    attendees: list = fields.JSONField(default=list)  # type: ignore[assignment]
    outcome = fields.TextField()
    follow_up = fields.TextField(default="")
    follow_up_due = fields.DateField(null=True)
    recorded_by = fields.CharField(max_length=128)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "interview"
        indexes = (("tenant_id", "company_id", "held_on"), ("tenant_id", "period_key"))
