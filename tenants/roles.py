"""Who a principal is allowed to be."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    STREET_OFFICER = "street_officer"  # 街道干部
    COMMUNITY_WORKER = "community_worker"  # 社区工作者
    GRID_WORKER = "grid_worker"  # 网格员
    BUILDING_HEAD = "building_head"  # 楼长
    STEWARD = "steward"  # 邻里大管家
    HOUSING_DEPT = "housing_dept"  # 住建部门 (reads the whole tenant)
    UNIT_STAFF = "unit_staff"  # a county department's or the efficiency office's staff (their unit only)
    OWNERS_COMMITTEE = "owners_committee"  # 业委会
    PROPERTY_COMPANY = "property_company"  # 物业企业
    SUPERVISOR = "supervisor"  # 小区监督员
    RESIDENT = "resident"
    PARTY_MEMBER = "party_member"  # 在职党员
    ASSESSOR = "assessor"  # an assessor body's account
    UNIT_HEAD = "unit_head"  # 单元长
    VOLUNTEER = "volunteer"  # 志愿者
    PARTNER_STAFF = "partner_staff"  # a partner's (merchant's or canteen's) staff: verifies its vouchers
    WORK_UNIT_CONTACT = "work_unit_contact"  # a 双报到 work unit's contact: its members' figures and reports


SCOPE_KINDS = (
    "street", "community", "grid", "compound", "building", "household", "company", "unit", "partner", "work_unit"
)


@dataclass(frozen=True)
class ScopeEntry:
    """One territory grant of a token: ``KIND:ID``, or ``KIND:ID/ROLE`` naming the role (post) that grants it.

    Only a street officer's street, a community worker's community and a grid worker's grid are writable; the
    same node granted through any other post (an assessor's, a supervisor's) is read-only.
    """

    kind: str
    id: int
    via: Role | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" + (f"/{self.via.value}" if self.via else "")


def parse_scope_entry(entry: str) -> ScopeEntry:
    body, _, via = entry.partition("/")
    kind, sep, raw = body.partition(":")
    if not sep or kind not in SCOPE_KINDS or not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"scope entry {entry!r} must look like KIND:ID[/ROLE] with KIND one of {SCOPE_KINDS}")
    return ScopeEntry(kind, int(raw), Role(via) if via else None)
