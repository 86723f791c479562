"""平急结合 emergency mobilisation: a community's emergency (one active at a time) and the work-group assignments
of people to the groups of a mode (the emergency set while one is active, the normal set otherwise).

Both tables are tenant-owned with row-level security (migration 0034). Partial unique indexes make a switch and
its assignments land once: one active emergency per community, one assignment per emergency and person, one
normal-mode assignment per community and person.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class Emergency(TenantModel):
    """A community in emergency mode 应急状态, from the switch (一键启动) to the stand-down."""

    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    reason = fields.CharField(max_length=500)
    groups: list = fields.JSONField(default=list)  # type: ignore[assignment]  # [{code, title}] at the switch
    started_at = fields.DatetimeField()
    started_by = fields.CharField(max_length=128)
    ended_at = fields.DatetimeField(null=True)
    ended_by = fields.CharField(max_length=128, null=True)
    end_reason = fields.CharField(max_length=500, default="")

    class Meta:
        table = "dual_emergency"
        indexes = (("tenant_id", "community_id", "started_at"), ("tenant_id", "street_id", "started_at"),
                   ("tenant_id", "started_at"))


class AssignedBy(StrEnum):
    RULE = "rule"  # placed by the configured rules at the switch
    HAND = "hand"  # placed (or moved) by staff; overrides the rules


class WorkGroupAssignment(TenantModel):
    """A person in one work group of a community: in an emergency (``emergency_id``) or in normal times (None)."""

    community_id = fields.BigIntField()
    emergency_id = fields.BigIntField(null=True)  # None: a normal-mode (hand) assignment
    person_id = fields.BigIntField()
    group_code = fields.CharField(max_length=64)
    how = fields.CharEnumField(AssignedBy, max_length=8)
    assigned_at = fields.DatetimeField()
    assigned_by = fields.CharField(max_length=128)
    notified_at = fields.DatetimeField(null=True)  # when the person was told of this group (inbox)
    removed_at = fields.DatetimeField(null=True)  # taken out of the group by hand (kept: the rules do not re-add)
    removed_by = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "dual_work_group_assignment"
        indexes = (("tenant_id", "community_id", "emergency_id"), ("tenant_id", "person_id"))
