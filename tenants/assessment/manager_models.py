"""Decisions on yearly elimination 末位淘汰 candidates (firms or property managers)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class EliminationTarget(StrEnum):
    FIRM = "firm"
    MANAGER = "manager"


class EliminationOutcome(StrEnum):
    KEPT = "kept"  # 保留
    WARNED = "warned"  # 警告
    REPLACED = "replaced"  # 撤换 (a manager: links to the contract-manager change)


class EliminationDecision(TenantModel):
    """What was decided about one candidate of a year: one decision per target and year."""

    target_kind = fields.CharEnumField(EliminationTarget, max_length=8)
    target_id = fields.BigIntField()
    year = fields.IntField()
    outcome = fields.CharEnumField(EliminationOutcome, max_length=8)
    reason = fields.CharField(max_length=500)
    contract_manager_id = fields.BigIntField(null=True)  # replaced: the ended ContractManager row
    decided_by = fields.CharField(max_length=128)
    decided_at = fields.DatetimeField()

    class Meta:
        table = "elimination_decision"
        unique_together = (("tenant_id", "year", "target_kind", "target_id"),)
