"""Tickets, their timeline, escalations and the once-only reminder ledger."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.inbox.models import DeliveryStatus  # noqa: F401  (the shipped migration 0006 imports it from here)
from tenants.models import TenantModel


class TicketState(StrEnum):
    REPORTED = "reported"  # waiting for review and dispatch
    DISPATCHED = "dispatched"  # sent to the responsible unit, waiting for it to accept
    TRANSFERRED = "transferred"  # handed to another unit, waiting for it to accept
    ACCEPTED = "accepted"  # the unit is working on it
    REOPENED = "reopened"  # an unsatisfied rating sent it back to the unit
    RESOLVED = "resolved"  # the unit says it is done; waiting for the resident's rating
    RATED = "rated"  # rated satisfied (closes at once)
    CLOSED = "closed"
    REJECTED = "rejected"  # not a valid request, with a reason


OPEN_STATES = (
    TicketState.REPORTED,
    TicketState.DISPATCHED,
    TicketState.TRANSFERRED,
    TicketState.ACCEPTED,
    TicketState.REOPENED,
)
# States whose clock belongs to the assigned unit (the resolution SLA).
UNIT_STATES = (TicketState.DISPATCHED, TicketState.TRANSFERRED, TicketState.ACCEPTED, TicketState.REOPENED)


class UnitKind(StrEnum):
    """Who a ticket is assigned to: the responsibility matrix's unit types."""

    COMMUNITY = "community"
    PROPERTY_COMPANY = "property_company"
    STREET = "street"
    COUNTY_DEPARTMENT = "county_department"
    HOUSING_DEPT = "housing_dept"


class Channel(StrEnum):
    APP = "app"
    HOTLINE = "hotline"  # entered by staff from a call
    GRID_WORKER = "grid_worker"  # reported by a grid worker for a resident
    STEWARD = "steward"  # reported by a neighbourhood steward for a resident
    VISIT = "visit"


class RatingChannel(StrEnum):
    """How the resident's rating came in: in the app, or taken by staff on a return visit 回访."""

    APP = "app"
    PHONE = "phone"  # a return call
    VISIT = "visit"  # in person, at the door
    SMS = "sms"


class Ticket(TenantModel):
    category_code = fields.CharField(max_length=64)
    item_code = fields.CharField(max_length=64)
    description = fields.TextField()
    photos: list = fields.JSONField(default=list)  # type: ignore[assignment]
    contact = fields.CharField(max_length=64, default="")
    channel = fields.CharEnumField(Channel, max_length=16)
    # Where: the most specific node given, with all its ancestors (for scopes and KPIs), or a free address.
    street_id = fields.BigIntField(null=True)
    community_id = fields.BigIntField(null=True)
    grid_id = fields.BigIntField(null=True)
    compound_id = fields.BigIntField(null=True)
    building_id = fields.BigIntField(null=True)
    household_id = fields.BigIntField(null=True)
    address = fields.CharField(max_length=300, default="")
    latitude = fields.DecimalField(max_digits=9, decimal_places=6, null=True)
    longitude = fields.DecimalField(max_digits=9, decimal_places=6, null=True)
    reporter_user_id = fields.CharField(max_length=128)  # the resident the ticket is for
    entered_by = fields.CharField(max_length=128)  # who typed it (the resident, or staff on their behalf)
    state = fields.CharEnumField(TicketState, max_length=16, default=TicketState.REPORTED)
    assignee_kind = fields.CharEnumField(UnitKind, max_length=24, null=True)
    assignee_id = fields.BigIntField(null=True)
    # The clock of the current step, in UTC; ``step_seq`` counts steps so reminders are once per step.
    step_seq = fields.IntField(default=1)
    due_at = fields.DatetimeField(null=True)
    # The resolution SLA of the current assignment (set on dispatch, transfer and reopening; escalation moves
    # ``due_at`` but never this), which decides whether the ticket was resolved on time.
    sla_due_at = fields.DatetimeField(null=True)
    escalation_level = fields.IntField(default=0)  # index into the escalation ladder
    escalations = fields.IntField(default=0)
    reopened = fields.IntField(default=0)
    rating = fields.IntField(null=True)
    satisfied = fields.BooleanField(null=True)
    rating_channel = fields.CharEnumField(RatingChannel, max_length=16, null=True)
    resolved_on_time = fields.BooleanField(null=True)
    # The rules in force when the ticket was opened (steps, SLAs, ladder, scale): later changes never move it.
    rules: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    config_version = fields.IntField(null=True)
    opened_at = fields.DatetimeField()
    dispatched_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # The ticket number in the system it was imported from (e.g. the 12345 hotline); unique per tenant.
    external_ref = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "ticket"
        indexes = (
            ("tenant_id", "opened_at", "id"),
            ("tenant_id", "reporter_user_id", "id"),
            ("tenant_id", "assignee_kind", "assignee_id", "opened_at"),
            ("tenant_id", "compound_id", "opened_at"),
            ("tenant_id", "community_id", "opened_at"),
            ("tenant_id", "street_id", "opened_at"),
        )


class TicketEvent(TenantModel):
    """One line of a ticket's timeline."""

    ticket_id = fields.BigIntField()
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=32)
    from_state = fields.CharField(max_length=16, null=True)
    to_state = fields.CharField(max_length=16, null=True)
    note = fields.TextField(default="")
    attachments: list = fields.JSONField(default=list)  # type: ignore[assignment]
    details: dict = fields.JSONField(default=dict)  # type: ignore[assignment]

    class Meta:
        table = "ticket_event"
        indexes = (("tenant_id", "ticket_id", "at"),)


class Escalation(TenantModel):
    """提级督办: the ticket climbed a rung; the unit it was assigned to collects the escalation."""

    ticket_id = fields.BigIntField()
    from_level = fields.IntField()
    to_level = fields.IntField()
    unit_kind = fields.CharEnumField(UnitKind, max_length=24, null=True)
    unit_id = fields.BigIntField(null=True)
    automatic = fields.BooleanField()
    reason = fields.CharField(max_length=500, default="")
    period = fields.CharField(max_length=7)  # tenant-local month, YYYY-MM
    at = fields.DatetimeField()

    class Meta:
        table = "escalation"
        indexes = (("tenant_id", "unit_kind", "unit_id", "period"), ("tenant_id", "at"))


class PartnerTaskState(StrEnum):
    PENDING = "pending"  # waiting for the partner to accept
    ACCEPTED = "accepted"
    COMPLETED = "completed"


class PartnerTask(TenantModel):
    """怎么配合干: a partner unit's co-handling task on a ticket, with its own acceptance and due time."""

    ticket_id = fields.BigIntField()
    unit_kind = fields.CharEnumField(UnitKind, max_length=24)
    unit_id = fields.BigIntField()
    state = fields.CharEnumField(PartnerTaskState, max_length=16, default=PartnerTaskState.PENDING)
    accept_due_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    accepted_by = fields.CharField(max_length=128, null=True)
    completed_at = fields.DatetimeField(null=True)
    completed_by = fields.CharField(max_length=128, null=True)
    note = fields.TextField(default="")
    escalated_at = fields.DatetimeField(null=True)  # not accepted in time: escalated once

    class Meta:
        table = "ticket_partner_task"
        unique_together = (("tenant_id", "ticket_id", "unit_kind", "unit_id"),)
        indexes = (("tenant_id", "unit_kind", "unit_id", "created_at"),)


class ReminderSent(TenantModel):
    """The once-only ledger: a (ticket, step, kind) reminder or auto-escalation happens once, however often the
    job runs or how many workers run it (the unique key decides who does it)."""

    ticket_id = fields.BigIntField()
    step_seq = fields.IntField()
    kind = fields.CharField(max_length=32)  # due_soon, overdue
    at = fields.DatetimeField()

    class Meta:
        table = "reminder_sent"
        unique_together = (("tenant_id", "ticket_id", "step_seq", "kind"),)


class EfficiencyCase(TenantModel):
    """A unit escalated the configured number of times in a month, handed to the efficiency office 作风效能办."""

    # (Or in a row, by the tenant's ``efficiency_office_window``; ``period`` is then the month of the run's latest
    # escalation and ``run_no`` the unit's run: each run of N in a row is its own case, several in a month.)

    unit_kind = fields.CharEnumField(UnitKind, max_length=24)
    unit_id = fields.BigIntField()
    period = fields.CharField(max_length=7)
    run_no = fields.IntField(default=0)  # 0 by calendar month; in a row, 1 + the unit's cases before it
    escalations = fields.IntField()
    handed_at = fields.DatetimeField()

    class Meta:
        table = "efficiency_case"
        unique_together = (("tenant_id", "unit_kind", "unit_id", "period", "run_no"),)
