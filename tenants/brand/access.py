"""Who sees brand projects (``readable``: a ``QuerySet``, see territory.access) and who takes each step, from
the caller's roles and writer posts."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from tenants.brand.models import BrandProject
from tenants.errors import Forbidden
from tenants.tenancy.roles import Role
from tenants.territory.access import Access

# The tenant administration and the housing department see every project; a street officer their street's
# communities; a community worker their community. Everyone else is refused.
READERS = frozenset({Role.TENANT_ADMIN, Role.HOUSING_DEPT, Role.STREET_OFFICER, Role.COMMUNITY_WORKER})
TOTALS_READERS = frozenset({Role.TENANT_ADMIN, Role.HOUSING_DEPT})
DECLARERS = frozenset({Role.COMMUNITY_WORKER, Role.TENANT_ADMIN})
EVALUATORS = frozenset({Role.STREET_OFFICER, Role.TENANT_ADMIN})
ADMINS = frozenset({Role.TENANT_ADMIN})

_ACTION_ZH = {
    "read": "查看品牌项目",
    "read totals": "查看品牌项目年度汇总",
    "declare": "申报品牌项目",
    "approve": "批准品牌项目",
    "reject": "驳回品牌项目",
    "evaluate": "中期评估品牌项目",
    "accept": "验收品牌项目",
    "pay": "拨付品牌项目奖补",
}


def require(access: Access, roles: frozenset[Role], action: str) -> None:
    """Refuse a caller holding none of ``roles`` (before anything is looked up)."""
    if not access.roles & roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(
            f"无权{_ACTION_ZH.get(action, action)}（需要角色：{names}）",
            f"you may not {action} brand projects (requires one of: {names})",
        )


def readable(caller: Access) -> QuerySet[BrandProject]:
    """The projects the caller reads (``READERS`` only, checked first): every project for the tenant
    administration and the housing department, otherwise those of the communities the caller works for."""
    require(caller, READERS, "read")
    q = caller.staff_communities_filter()
    return BrandProject.all() if q is None else BrandProject.filter(q)


def works_for_community(access: Access, community_id: int) -> bool:
    """A community worker of this very community (a writer post), or a tenant administrator."""
    return access.whole_tenant or access.holds_post("community", community_id)


def works_for_street(access: Access, street_id: int) -> bool:
    """A street officer of this very street (a writer post), or a tenant administrator."""
    return access.whole_tenant or access.holds_post("street", street_id)
