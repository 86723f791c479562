"""双报到 core records: a work unit's registration at a community, an in-service party member's registration at
their residence community (a move is a new registration; the old one stays, ``moved``), the posts members take
(online or offline building head of a building, a volunteer role), and community activities with their sign-ups
and attendance.

Every table is tenant-owned with row-level security (migration 0031). A person has at most one approved and one
pending registration (a move waits, pending, beside the approved registration it replaces), a work unit one current
(pending or approved) per community: partial unique indexes, so two submissions at once cannot both land.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class RegistrationStatus(StrEnum):
    PENDING = "pending"  # submitted, waiting for the community (or street) to approve
    APPROVED = "approved"  # registered: takes part
    REJECTED = "rejected"  # refused, with a reason
    MOVED = "moved"  # a member's registration replaced by one at another community (history)
    ENDED = "ended"  # withdrawn or expired (a unit's agreement ran out, a member left)


CURRENT = (RegistrationStatus.PENDING, RegistrationStatus.APPROVED)


class UnitRegistration(TenantModel):
    """A work unit registered with one community: the resources it offers 资源清单 and the agreement period."""

    work_unit_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()  # the community's street, for street officers' lists
    resources: list = fields.JSONField(default=list)  # type: ignore[assignment]  # short texts
    agreement_from = fields.DateField()
    agreement_until = fields.DateField(null=True)  # None: open-ended
    status = fields.CharEnumField(RegistrationStatus, max_length=12, default=RegistrationStatus.PENDING)
    reason = fields.CharField(max_length=500, default="")  # why rejected or ended
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()
    decided_by = fields.CharField(max_length=128, null=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dual_unit_registration"
        indexes = (("tenant_id", "community_id", "status"), ("tenant_id", "work_unit_id", "status"))


class MemberRegistration(TenantModel):
    """An in-service party member 在职党员 registered at their residence community, naming their work unit and party
    organisation. A move to another community is a new registration that ``replaces`` this one (then ``moved``)."""

    person_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    work_unit_id = fields.BigIntField(null=True)  # None: a unit not registered in civicgrid (named in work_unit_name)
    work_unit_name = fields.CharField(max_length=200, default="")
    party_org = fields.CharField(max_length=200)  # the party organisation the member belongs to
    building_id = fields.BigIntField(null=True)  # where they live, when known (emergency groups by building)
    skills: list = fields.JSONField(default=list)  # type: ignore[assignment]  # codes, e.g. "medical"
    status = fields.CharEnumField(RegistrationStatus, max_length=12, default=RegistrationStatus.PENDING)
    reason = fields.CharField(max_length=500, default="")
    replaces_id = fields.BigIntField(null=True)  # the registration this one replaced (a move)
    starts_on = fields.DateField(null=True)  # approved: the first day registered
    ends_on = fields.DateField(null=True)  # moved or ended: the last day
    self_registered = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()
    decided_by = fields.CharField(max_length=128, null=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dual_member_registration"
        indexes = (
            ("tenant_id", "community_id", "status"),
            ("tenant_id", "work_unit_id", "status"),
            ("tenant_id", "person_id"),
        )


class MemberPostKind(StrEnum):
    ONLINE_BUILDING_HEAD = "online_building_head"  # 线上楼长: the building's online group
    OFFLINE_BUILDING_HEAD = "offline_building_head"  # 线下楼长: on the ground
    VOLUNTEER = "volunteer"  # a volunteer role in the community (the role names it)


class MemberPost(TenantModel):
    """A post a registered member holds at their community: a building head of a building, or a volunteer role."""

    registration_id = fields.BigIntField()
    person_id = fields.BigIntField()
    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    kind = fields.CharEnumField(MemberPostKind, max_length=24)
    building_id = fields.BigIntField(null=True)  # building-head posts
    role = fields.CharField(max_length=100, default="")  # volunteer posts: the role (e.g. 文明劝导)
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)  # the last day held
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()

    class Meta:
        table = "dual_member_post"
        indexes = (("tenant_id", "community_id", "kind"), ("tenant_id", "person_id"), ("tenant_id", "building_id"))


class ActivityStatus(StrEnum):
    OPEN = "open"  # published: sign-ups, check-in
    CLOSED = "closed"  # over: attendance final, absences recorded, the absence rules ran
    CANCELLED = "cancelled"  # called off: nobody attended, nobody absent


class Activity(TenantModel):
    """A community activity 活动 members sign up for or are assigned to."""

    community_id = fields.BigIntField()
    street_id = fields.BigIntField()
    title = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=64)  # e.g. volunteer_service, cleanup, visit, meeting
    place = fields.CharField(max_length=200, default="")
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    capacity = fields.IntField()  # people who may sign up (the rest wait)
    posts_needed: list = fields.JSONField(default=list)  # type: ignore[assignment]  # [{role, count}]
    outside_working_hours = fields.BooleanField()  # 8小时以外: from the tenant's working hours unless set
    status = fields.CharEnumField(ActivityStatus, max_length=12, default=ActivityStatus.OPEN)
    checkin_key = fields.CharField(max_length=64)  # per-activity secret the signed check-in codes use
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    closed_by = fields.CharField(max_length=128, null=True)
    rules_run_at = fields.DatetimeField(null=True)  # the absence rules ran for this activity (job, idempotent)

    class Meta:
        table = "dual_activity"
        indexes = (("tenant_id", "community_id", "starts_at"), ("tenant_id", "status", "ends_at"),
                   ("tenant_id", "starts_at"))


class SignupStatus(StrEnum):
    SIGNED = "signed"  # has a place
    WAITING = "waiting"  # on the waiting list (position)
    ASSIGNED = "assigned"  # put on the activity by staff (counts like signed)
    CANCELLED = "cancelled"  # cancelled before the activity (not an absence)


class Attendance(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


class Signup(TenantModel):
    """One member's place on an activity: signed up, waiting or assigned; then present or absent, and hours."""

    activity_id = fields.BigIntField()
    person_id = fields.BigIntField()
    registration_id = fields.BigIntField(null=True)  # the member's registration (None: a resident volunteer)
    community_id = fields.BigIntField()
    status = fields.CharEnumField(SignupStatus, max_length=12)
    position = fields.IntField(null=True)  # waiting: place in line (1 first)
    post = fields.CharField(max_length=100, default="")  # the needed post taken, if any
    attendance = fields.CharEnumField(Attendance, max_length=8, null=True)  # None until checked in or closed
    checked_in_at = fields.DatetimeField(null=True)
    checked_in_by = fields.CharField(max_length=128, null=True)  # the member (code) or the staff member
    minutes = fields.IntField(default=0)  # service time counted (present: the activity's length unless set)
    starts_at = fields.DatetimeField()  # the activity's start (the year and the order of a member's record)
    outside_working_hours = fields.BooleanField(default=False)  # the activity's, for the year's hours
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "dual_signup"
        unique_together = (("tenant_id", "activity_id", "person_id"),)
        indexes = (("tenant_id", "person_id", "starts_at"), ("tenant_id", "activity_id", "status", "position"))
