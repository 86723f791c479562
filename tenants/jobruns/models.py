from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class JobRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(TenantModel):
    """One run of a job kind for one tenant and period. ``run_no`` > 1 only for explicit re-runs."""

    kind = fields.CharField(max_length=64)
    period_key = fields.CharField(max_length=32)
    run_no = fields.IntField(default=1)
    status = fields.CharEnumField(JobRunStatus, max_length=16, default=JobRunStatus.RUNNING)
    attempts = fields.IntField(default=0)
    job_id = fields.CharField(max_length=200, null=True)
    counts: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    error: str | None = fields.TextField(null=True)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job_run"
        # run_no: one row per run; job_id: a re-delivered (re-)run is the same run.
        unique_together = (("tenant_id", "kind", "period_key", "run_no"), ("tenant_id", "kind", "period_key", "job_id"))
        indexes = (("tenant_id", "created_at", "id"),)
