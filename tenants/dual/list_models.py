"""双报到 lists and micro-wishes: a community's needs 需求清单 and projects 项目清单 with the claims units and members
make on them, and residents' micro-wishes 微心愿 with their timeline.

A claimant is named by one text, ``person:<id>`` or ``work_unit:<id>``, so "one live claim per claimant and item"
is a partial unique index (withdrawn and cancelled claims left out) and "one claimant per wish" a column. Every
table is tenant-owned with row-level security (migration 0032).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class ItemKind(StrEnum):
    NEED = "need"  # 需求清单: something the community needs
    PROJECT = "project"  # 项目清单: a project the community runs


class ItemStatus(StrEnum):
    OPEN = "open"  # claimable
    CLOSED = "closed"  # closed by staff: no more claims, the claims made stay


class DualItem(TenantModel):
    """A need or project a community publishes for units and members to claim."""

    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    kind = fields.CharEnumField(ItemKind, max_length=8)
    title = fields.CharField(max_length=200)
    description = fields.TextField()
    slots = fields.IntField(null=True)  # None: any number of claimants
    claimed_count = fields.IntField(default=0)  # claims made (the row is locked to take one)
    due_on = fields.DateField(null=True)
    status = fields.CharEnumField(ItemStatus, max_length=8, default=ItemStatus.OPEN)
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()
    closed_by = fields.CharField(max_length=128, null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dual_item"
        indexes = (("tenant_id", "community_id", "status"), ("tenant_id", "created_at"))


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"  # taken on, work under way
    SUBMITTED = "submitted"  # the claimant says it is done, with evidence
    RETURNED = "returned"  # staff sent it back (reason): the claimant submits again
    ACCEPTED = "accepted"  # staff accepted it: done
    WITHDRAWN = "withdrawn"  # the claimant gave it up (claimed or returned): the slot is free again
    CANCELLED = "cancelled"  # staff cancelled it (reason): the slot is free again


RELEASED = (ClaimStatus.WITHDRAWN, ClaimStatus.CANCELLED)  # no longer holds a slot nor the claimant's one claim


class DualClaim(TenantModel):
    """A unit's or member's claim on a need or project, followed to done with evidence."""

    item_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    claimant = fields.CharField(max_length=40)  # person:<id> | work_unit:<id>
    person_id = fields.BigIntField(null=True)
    work_unit_id = fields.BigIntField(null=True)
    claimed_by = fields.CharField(max_length=128)  # the user who claimed (a member, a unit's contact)
    status = fields.CharEnumField(ClaimStatus, max_length=10, default=ClaimStatus.CLAIMED)
    evidence: list = fields.JSONField(default=list)  # type: ignore[assignment]  # https links
    note = fields.TextField(default="")
    reason = fields.CharField(max_length=500, default="")  # why returned
    created_at = fields.DatetimeField()
    submitted_at = fields.DatetimeField(null=True)
    decided_by = fields.CharField(max_length=128, null=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dual_claim"
        # One live claim per claimant and item: a partial unique index (status not released) in migration 0032.
        indexes = (("tenant_id", "person_id"), ("tenant_id", "work_unit_id"), ("tenant_id", "community_id", "status"))


class WishStatus(StrEnum):
    POSTED = "posted"  # waiting for a claimant
    ESCALATED = "escalated"  # unclaimed past wish_claim_days: the community was told; still claimable
    CLAIMED = "claimed"  # a unit or member took it on (due wish_due_days later)
    OVERDUE = "overdue"  # claimed and past its due day, not fulfilled
    FULFILLED = "fulfilled"  # the claimant says it is done, with evidence
    CONFIRMED = "confirmed"  # the resident (or staff for them) confirmed it
    CANCELLED = "cancelled"  # withdrawn by the resident or staff before fulfilment


class Wish(TenantModel):
    """A resident's micro-wish 微心愿: posted for themselves (or by staff for them), claimed, fulfilled, confirmed."""

    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    person_id = fields.BigIntField()  # the resident
    title = fields.CharField(max_length=100)
    description = fields.TextField()
    status = fields.CharEnumField(WishStatus, max_length=10, default=WishStatus.POSTED)
    posted_on = fields.DateField()  # tenant-local
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()
    escalated_at = fields.DatetimeField(null=True)
    claimant = fields.CharField(max_length=40, null=True)  # person:<id> | work_unit:<id>
    claimant_person_id = fields.BigIntField(null=True)  # a member's claim
    claimant_unit_id = fields.BigIntField(null=True)  # a unit's claim
    claimed_by = fields.CharField(max_length=128, null=True)  # the user who claimed (reminded)
    claimed_at = fields.DatetimeField(null=True)
    due_on = fields.DateField(null=True)  # claimed day + wish_due_days (tenant-local)
    reminded_at = fields.DatetimeField(null=True)
    evidence: list = fields.JSONField(default=list)  # type: ignore[assignment]  # https links
    note = fields.TextField(default="")
    fulfilled_at = fields.DatetimeField(null=True)
    rating = fields.SmallIntField(null=True)  # 1..5, the resident's
    confirmed_by = fields.CharField(max_length=128, null=True)
    confirmed_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dual_wish"
        indexes = (("tenant_id", "community_id", "status"), ("tenant_id", "person_id"),
                   ("tenant_id", "claimant_person_id"), ("tenant_id", "claimant_unit_id"),
                   ("tenant_id", "status", "due_on"))


class WishEvent(TenantModel):
    """One step on a wish's timeline (append-only): posted, claimed, escalated, reminded, overdue, fulfilled,
    confirmed, cancelled."""

    wish_id = fields.BigIntField()
    action = fields.CharField(max_length=16)
    actor = fields.CharField(max_length=128)  # a user id, or "system" for the job
    note = fields.CharField(max_length=500, default="")
    at = fields.DatetimeField()

    class Meta:
        table = "dual_wish_event"
        indexes = (("tenant_id", "wish_id", "at"),)
