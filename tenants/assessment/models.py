"""Assessment rounds, body submissions, supervisors' findings, rating snapshots and interviews."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

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


class InterviewSubject(StrEnum):
    """Who an interview 约谈 concerns."""

    FIRM = "firm"  # a property company
    MANAGER = "manager"  # a property manager 物业经理 (issue 19 part D's table)
    UNIT = "unit"  # a department, a street office (street party committee), the efficiency office's unit
    STREET = "street"  # a street handed to the efficiency office (its efficiency case)
    COMMUNITY = "community"  # a community handed to the efficiency office
    PERSON = "person"  # an individual (县委约谈)


class InterviewStatus(StrEnum):
    OWED = "owed"  # to be held by ``due_on``
    HELD = "held"
    WITHDRAWN = "withdrawn"  # owed by a list a later revision no longer names: kept, neither reminded nor overdue


class InterviewSource(StrEnum):
    RED_BLACK = "red_black"  # the published black list 黑榜
    EFFICIENCY = "efficiency"  # a unit handed to the efficiency office 作风效能办
    HAND = "hand"  # recorded by hand


class Interview(TenantModel):
    """约谈: owed (by a published black list or an efficiency-office case) or held, with a firm, a manager, a unit
    or a person, and what came of it. ``company_id`` repeats ``subject_id`` for a firm (the street scope reads it)."""

    company_id = fields.BigIntField(null=True)
    subject_kind = fields.CharEnumField(InterviewSubject, max_length=12, default=InterviewSubject.FIRM)
    subject_id = fields.BigIntField()
    status = fields.CharEnumField(InterviewStatus, max_length=10, default=InterviewStatus.HELD)
    source = fields.CharEnumField(InterviewSource, max_length=12, default=InterviewSource.HAND)
    snapshot_id = fields.BigIntField(null=True)  # the published snapshot that owed it
    source_id = fields.BigIntField(null=True)  # the efficiency case that owed it
    period_key = fields.CharField(max_length=8)
    reason = fields.TextField(default="")
    due_on = fields.DateField(null=True)  # an owed interview is held by this day (tenant-local)
    reminded_at = fields.DatetimeField(null=True)  # the owed interview's one reminder
    overdue_at = fields.DatetimeField(null=True)  # when the job found it overdue (told once)
    held_on = fields.DateField(null=True)
    attendees: list = fields.JSONField(default=list)  # type: ignore[assignment]
    outcome = fields.TextField(default="")
    follow_up = fields.TextField(default="")
    follow_up_due = fields.DateField(null=True)
    follow_up_reminded_at = fields.DatetimeField(null=True)
    follow_up_done_on = fields.DateField(null=True)  # the follow-up done (tenant-local day), with its evidence
    follow_up_evidence = fields.TextField(default="")
    withdrawn_at = fields.DatetimeField(null=True)  # when a revised list withdrew the owed interview
    recorded_by = fields.CharField(max_length=128)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "interview"
        indexes = (
            ("tenant_id", "company_id", "held_on"),
            ("tenant_id", "period_key"),
            ("tenant_id", "subject_kind", "subject_id"),
            ("tenant_id", "status", "due_on"),
        )

    async def save(self, *args: Any, **kwargs: Any) -> None:
        """A firm named by ``company_id`` alone (as before issue 19) is the interview's subject."""
        if self.subject_id is None and self.company_id is not None:
            self.subject_id = self.company_id
        await super().save(*args, **kwargs)


class Commendation(TenantModel):
    """表彰挂牌: a firm on a published red list 红榜, with the day its plaque is hung (set by hand)."""

    company_id = fields.BigIntField()
    period_key = fields.CharField(max_length=8)
    snapshot_id = fields.BigIntField()
    rank = fields.IntField()
    score = fields.DecimalField(max_digits=5, decimal_places=2)
    plaque_on = fields.DateField(null=True)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)  # a revised red list no longer names the firm (not read any more)

    class Meta:
        table = "commendation"
        unique_together = (("tenant_id", "period_key", "company_id"),)
        indexes = (("tenant_id", "company_id", "period_key"),)
