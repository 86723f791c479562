"""Who a principal is allowed to be."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    STREET_OFFICER = "street_officer"  # 街道干部
    COMMUNITY_WORKER = "community_worker"  # 社区工作者
    GRID_WORKER = "grid_worker"  # 网格员
    BUILDING_HEAD = "building_head"  # 楼长
    STEWARD = "steward"  # 邻里大管家
    HOUSING_DEPT = "housing_dept"  # 住建部门
    OWNERS_COMMITTEE = "owners_committee"  # 业委会
    PROPERTY_COMPANY = "property_company"  # 物业企业
    SUPERVISOR = "supervisor"  # 小区监督员
    RESIDENT = "resident"
    PARTY_MEMBER = "party_member"  # 在职党员
    ASSESSOR = "assessor"  # an assessor body's account


SCOPE_KINDS = ("street", "community", "grid", "compound", "building", "household", "company", "unit")
