"""People and their posts. A person's active posts decide the roles and scope of their token."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from tortoise import fields
from tortoise.expressions import Q

from tenants.models import Stamped, TenantModel


class Person(TenantModel, Stamped):
    user_id = fields.CharField(max_length=128)  # the login subject (token ``sub``)
    name = fields.CharField(max_length=100)
    phone = fields.CharField(max_length=32, default="")
    household_id = fields.BigIntField(null=True)  # residents live somewhere
    is_party_member = fields.BooleanField(default=False)
    # Deactivated (deactivatePerson): their posts were ended then, and their records grant nothing, not even a
    # resident's or party member's role, until reactivated.
    deactivated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "person"
        unique_together = (("tenant_id", "user_id"),)
        indexes = (("tenant_id", "household_id"),)


class PostKind(StrEnum):
    TENANT_ADMIN = "tenant_admin"
    STREET_OFFICER = "street_officer"  # 街道干部: a street
    COMMUNITY_WORKER = "community_worker"  # 社区工作者: a community
    GRID_WORKER = "grid_worker"  # 网格员: a grid (one per grid by default, 一网一员)
    BUILDING_HEAD = "building_head"  # 楼长: a building
    STEWARD = "steward"  # 邻里大管家: the households they look after
    SUPERVISOR = "supervisor"  # 小区监督员: a compound
    OWNERS_COMMITTEE = "owners_committee"  # 业委会成员: a compound
    PROPERTY_COMPANY = "property_company"  # 物业企业员工: a company
    HOUSING_DEPT = "housing_dept"  # 住建部门: a housing-department unit
    UNIT_STAFF = "unit_staff"  # a county department or the efficiency office 作风效能办: that unit
    ASSESSOR = "assessor"  # an assessor body's account: body code + the area it assesses
    UNIT_HEAD = "unit_head"  # 单元长: a building (one stairwell 单元 of it; the label says which)
    VOLUNTEER = "volunteer"  # 志愿者: a community
    PARTNER_STAFF = "partner_staff"  # 爱心商户/长者食堂 staff: a partner (merchant or canteen) that honours vouchers
    WORK_UNIT_CONTACT = "work_unit_contact"  # 双报到 contact of a work unit: reads its members' figures


# Which territory level (or party) each post kind is attached to.
POST_TARGET: dict[PostKind, str | None] = {
    PostKind.TENANT_ADMIN: None,
    PostKind.STREET_OFFICER: "street",
    PostKind.COMMUNITY_WORKER: "community",
    PostKind.GRID_WORKER: "grid",
    PostKind.BUILDING_HEAD: "building",
    PostKind.STEWARD: "household",
    PostKind.SUPERVISOR: "compound",
    PostKind.OWNERS_COMMITTEE: "compound",
    PostKind.PROPERTY_COMPANY: "company",
    PostKind.HOUSING_DEPT: "unit",
    PostKind.UNIT_STAFF: "unit",
    PostKind.ASSESSOR: None,  # any territory level, named on the post
    PostKind.UNIT_HEAD: "building",
    PostKind.VOLUNTEER: "community",
    PostKind.PARTNER_STAFF: "partner",
    PostKind.WORK_UNIT_CONTACT: "work_unit",
}


class Post(TenantModel):
    """A person holds a post over a target (a territory node, a company or a unit) from a date."""

    person_id = fields.BigIntField()
    kind = fields.CharEnumField(PostKind, max_length=32)
    target_kind = fields.CharField(max_length=16, null=True)
    target_id = fields.BigIntField(null=True)
    body_code = fields.CharField(max_length=64, null=True)  # assessor posts: which assessor body
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)  # the last day held, inclusive
    # When it was ended, if on or before its last day (endPost): from then on it grants nothing, though its last
    # day has not passed. A post ended ahead of time (a later endsOn) runs to the end of that day.
    ended_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "post"
        indexes = (("tenant_id", "person_id"), ("tenant_id", "target_kind", "target_id"))


def not_over_on(day: date) -> Q:
    """Posts not over on ``day``: no last day, a later one, or ``day`` itself unless it was ended (``endPost``)."""
    return Q(ends_on=None) | Q(ends_on__gt=day) | (Q(ends_on=day) & Q(ended_at=None))


def active_on(day: date) -> Q:
    """Posts held on ``day`` (tenant-local): started by then and not over (on its last day, a post that was ended,
    ``endPost`` today, no longer counts)."""
    return Q(starts_on__lte=day) & not_over_on(day)
