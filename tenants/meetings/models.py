"""Joint meetings 联席会议 (issue 19): a series per community or compound, its meetings with attendance per party
and agenda items, the decisions a meeting takes (followed to done like small tickets, with an append-only
timeline), and the compliance flags of places that held no meeting in a period.

Every table is tenant-owned with row-level security (migration 0036). Unique keys make the jobs land once: one
series per target, one compliance flag per target and period.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class TargetKind(StrEnum):
    COMMUNITY = "community"
    COMPOUND = "compound"


class OwnerKind(StrEnum):
    UNIT = "unit"  # a department, street office, housing department (tenants.territory.parties.Unit)
    COMPANY = "company"  # a property company


class DecisionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class MeetingSeries(TenantModel):
    """The joint meetings of one community or compound 联席会议 (cadence and parties as configured when made)."""

    target_kind = fields.CharEnumField(TargetKind, max_length=16)
    target_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    cadence = fields.CharField(max_length=16)
    created_at = fields.DatetimeField()

    class Meta:
        table = "meeting_series"
        unique_together = (("tenant_id", "target_kind", "target_id"),)
        indexes = (("tenant_id", "community_id"), ("tenant_id", "street_id"))


class Meeting(TenantModel):
    """One meeting held: day, convenor, minutes, photo links (attendance and agenda in their own tables)."""

    series_id = fields.BigIntField()
    target_kind = fields.CharEnumField(TargetKind, max_length=16)
    target_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    held_on = fields.DateField()
    convenor = fields.CharField(max_length=200)
    minutes = fields.TextField(default="")
    photo_links: list = fields.JSONField(default=list)  # type: ignore[assignment]
    recorded_by = fields.CharField(max_length=128)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "meeting"
        indexes = (("tenant_id", "target_kind", "target_id", "held_on"), ("tenant_id", "community_id", "held_on"),
                   ("tenant_id", "street_id", "held_on"), ("tenant_id", "held_on"))


class MeetingAttendance(TenantModel):
    """Who came for one party (residents' committee, owners' committee, the firm ...)."""

    meeting_id = fields.BigIntField()
    party = fields.CharField(max_length=64)
    names: list = fields.JSONField(default=list)  # type: ignore[assignment]

    class Meta:
        table = "meeting_attendance"
        unique_together = (("tenant_id", "meeting_id", "party"),)


class AgendaItem(TenantModel):
    """An agenda item: free text, or tickets the meeting takes up (社区点题、部门答题: escalated with the meeting)."""

    meeting_id = fields.BigIntField()
    position = fields.IntField()
    text = fields.CharField(max_length=1000, default="")
    ticket_ids: list = fields.JSONField(default=list)  # type: ignore[assignment]
    escalated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "meeting_agenda_item"
        unique_together = (("tenant_id", "meeting_id", "position"),)


class Decision(TenantModel):
    """A decision of a meeting 会议决定事项: an owner unit or firm, a due day, followed to done or cancelled."""

    meeting_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    owner_kind = fields.CharEnumField(OwnerKind, max_length=16)
    owner_id = fields.BigIntField()
    due_on = fields.DateField()
    description = fields.CharField(max_length=2000)
    status = fields.CharEnumField(DecisionStatus, max_length=16, default=DecisionStatus.OPEN)
    done_on = fields.DateField(null=True)
    evidence = fields.CharField(max_length=2000, default="")
    evidence_links: list = fields.JSONField(default=list)  # type: ignore[assignment]
    reminded_at = fields.DatetimeField(null=True)
    overdue_at = fields.DatetimeField(null=True)
    # Rungs climbed after the due day: 0 none, 1 community, 2 street, 3 tenant administration (once each).
    escalation_level = fields.IntField(default=0)
    escalated_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()

    class Meta:
        table = "meeting_decision"
        indexes = (("tenant_id", "status", "due_on"), ("tenant_id", "meeting_id"),
                   ("tenant_id", "community_id", "due_on"), ("tenant_id", "street_id", "due_on"))


class DecisionEvent(TenantModel):
    """A decision's timeline (append-only): added, reminded, overdue, escalated, done, cancelled."""

    decision_id = fields.BigIntField()
    action = fields.CharField(max_length=32)
    actor = fields.CharField(max_length=128)
    at = fields.DatetimeField()
    note = fields.CharField(max_length=2000, default="")

    class Meta:
        table = "meeting_decision_event"
        indexes = (("tenant_id", "decision_id", "at"),)


class ComplianceFlag(TenantModel):
    """A community or compound that held no meeting in a period, flagged on the next period's first day."""

    target_kind = fields.CharEnumField(TargetKind, max_length=16)
    target_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    period_key = fields.CharField(max_length=16)
    flagged_on = fields.DateField()
    flagged_at = fields.DatetimeField()
    notified_at = fields.DatetimeField(null=True)
    # A meeting held in the period but recorded after the flag resolves it (the rubric counts that meeting).
    resolved_at = fields.DatetimeField(null=True)
    resolved_by_meeting_id = fields.BigIntField(null=True)

    class Meta:
        table = "meeting_compliance_flag"
        unique_together = (("tenant_id", "target_kind", "target_id", "period_key"),)
        indexes = (("tenant_id", "period_key"), ("tenant_id", "community_id", "period_key"))
