from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum

import strawberry

from api.context import Info
from api.rows import Node
from api.tenancy.loaders import TenancyLoaders
from tenants.tenancy import service
from tenants.tenancy.roles import Role as RoleEnum

Role = strawberry.enum(Enum("Role", {r.name: r.value for r in RoleEnum}), description="A principal's role.")


@strawberry.type(name="Tenant", description="A city 市 or a county/district 县/区.")
class TenantType(Node):
    slug: str
    name: str
    timezone: str
    is_active: bool
    created_at: datetime
    parent_id: strawberry.Private[int | None]

    @strawberry.field(description="The city this district sits under (visible on the platform path).")
    async def parent(self, info: Info) -> TenantType | None:
        if self.parent_id is None:
            return None
        parent = await TenancyLoaders.of(info).tenant.load(self.parent_id)
        return TenantType.of(parent) if parent else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[TenantType | None]:
        """A platform administrator refetches any tenant; anyone else only their own."""
        principal = info.context.principal
        ids = [int(i) for i in node_ids]
        rows = {t.id: t for t in await service.visible_tenants(principal, principal.tenant_id, ids)}
        return [cls.of(rows[i]) if i in rows else None for i in ids]


@strawberry.type(description="The caller: who they are, for which tenant, with which roles.")
class Me:
    user_id: str
    roles: list[Role]  # type: ignore[valid-type]
    scope: list[str]
    tenant_id: strawberry.Private[int | None]

    @strawberry.field
    async def tenant(self, info: Info) -> TenantType | None:
        if self.tenant_id is None:
            return None
        tenant = await TenancyLoaders.of(info).tenant.load(self.tenant_id)
        return TenantType.of(tenant) if tenant else None


@strawberry.input
class CreateTenantInput:
    slug: str
    name: str
    parent_slug: str | None = None
    timezone: str = "Asia/Shanghai"
    preset: str | None = strawberry.field(default=None, description="Start from a shipped configuration preset "
                                        "(default: a district inherits its city's, a city starts from zhangjiakou's).")
