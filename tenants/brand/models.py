"""品牌项目: a community's brand project through declaration, approval, mid-year evaluation and acceptance."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class ProjectStatus(StrEnum):
    DECLARED = "declared"  # by the community, waiting for the tenant's approval
    APPROVED = "approved"  # running; mid-year evaluation next
    REJECTED = "rejected"  # not approved (with a reason)
    EVALUATED = "evaluated"  # mid-year evaluation recorded; year-end acceptance next
    ACCEPTED = "accepted"  # passed at year end, amount awarded (posted to the ledger)
    FAILED = "failed"  # did not pass acceptance (nothing awarded)
    PAID = "paid"  # the award was paid


class BrandProject(TenantModel):
    community_id = fields.BigIntField()
    year = fields.IntField()
    title = fields.CharField(max_length=200)
    aim = fields.TextField()
    budget_requested_fen = fields.BigIntField()
    status = fields.CharEnumField(ProjectStatus, max_length=10, default=ProjectStatus.DECLARED)
    amount_awarded_fen = fields.BigIntField(null=True)
    payment_reference = fields.CharField(max_length=128, null=True)
    declared_by = fields.CharField(max_length=128)
    declared_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "brand_project"
        indexes = (("tenant_id", "year", "community_id"), ("tenant_id", "year", "status"))


class BrandProjectStep(TenantModel):
    """The record of each step (declare, approve, reject, evaluate, accept, fail, pay): who, when, what."""

    project_id = fields.BigIntField()
    step = fields.CharField(max_length=10)
    actor = fields.CharField(max_length=128)
    at = fields.DatetimeField()
    note = fields.TextField(default="")
    passed = fields.BooleanField(null=True)
    amount_fen = fields.BigIntField(null=True)
    reference = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "brand_project_step"
        unique_together = (("tenant_id", "project_id", "step"),)
