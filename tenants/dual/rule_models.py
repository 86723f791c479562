"""What the 双报到 absence rules open, and the year-end report runs.

An absence case is a talk 谈话 (the member's community talks with them: due, reminded once, closed with an outcome)
or a notice 通报 (to the member's work unit). Each is keyed by the sign-up that completed the streak of absences
(unique per kind), so the rule and its job can run any number of times; an open talk or a notice whose streak no
longer holds (attendance corrected) is withdrawn, and reopens if the streak holds again. A year-end run records
that a work unit's contacts were sent a year's roll-up (unique per unit and year). Row-level security on each
(migration 0033).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class CaseKind(StrEnum):
    TALK = "talk"  # 谈话: the community's workers talk with the member
    NOTICE = "notice"  # 通报: the member's work unit is told


class TalkStatus(StrEnum):
    OPEN = "open"  # to be held
    DONE = "done"  # held, outcome recorded (a notice is born done: it was sent)
    WITHDRAWN = "withdrawn"  # its streak no longer holds (attendance corrected after the close): not to be held


class AbsenceCase(TenantModel):
    """A talk or a notice opened because a member's absences in a row reached a configured count."""

    kind = fields.CharEnumField(CaseKind, max_length=8)
    person_id = fields.BigIntField()
    registration_id = fields.BigIntField()  # the member's registration when it opened
    community_id = fields.BigIntField()  # the member's community (its workers hold the talk)
    street_id = fields.BigIntField()
    work_unit_id = fields.BigIntField(null=True)  # the member's work unit (a notice goes to its contacts)
    signup_id = fields.BigIntField()  # the absence that completed the streak
    activity_id = fields.BigIntField()
    absent_at = fields.DatetimeField()  # that activity's start (the year the case counts in)
    absences = fields.IntField()  # the streak's length
    opened_on = fields.DateField()  # tenant-local
    due_on = fields.DateField(null=True)  # talks: opened_on + talk_due_days
    status = fields.CharEnumField(TalkStatus, max_length=12, default=TalkStatus.OPEN)  # notices are born DONE
    reminded_at = fields.DatetimeField(null=True)
    outcome = fields.CharField(max_length=2000, default="")
    held_on = fields.DateField(null=True)
    closed_by = fields.CharField(max_length=128, null=True)
    closed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "dual_absence_case"
        unique_together = (("tenant_id", "kind", "signup_id"),)
        indexes = (("tenant_id", "kind", "community_id", "status"), ("tenant_id", "person_id", "absent_at"),
                   ("tenant_id", "kind", "work_unit_id"), ("tenant_id", "kind", "status", "due_on"))


class YearEndRun(TenantModel):
    """A work unit's contacts were sent its roll-up of a year (once per unit and year)."""

    year = fields.IntField()
    work_unit_id = fields.BigIntField()
    recipients = fields.IntField()
    sent_at = fields.DatetimeField()

    class Meta:
        table = "dual_year_end_run"
        unique_together = (("tenant_id", "year", "work_unit_id"),)
