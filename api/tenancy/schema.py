from __future__ import annotations

import strawberry

from api.context import Info
from api.pagination import After, Before, Connection, First, Last, connection
from api.tenancy.types import CreateTenantInput, Me, Role, TenantType
from tenants.permissions import require
from tenants.tenancy import service


@strawberry.type
class TenancyQuery:
    @strawberry.field(description="The caller. Everyone with a valid token can read it.")
    def me(self, info: Info) -> Me:
        p = info.context.principal
        return Me(
            user_id=p.user_id,
            roles=[Role(r.value) for r in sorted(p.roles)],
            scope=list(p.scope),
            tenant_id=p.tenant_id,
        )

    @strawberry.field(description="All tenants, by id (platform administrators).")
    async def tenants(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[TenantType]:
        require(info.context.principal, "tenants.manage")  # the platform path: no tenant, no data scope
        return await connection(
            info, lambda w: service.list_tenants(window=w), TenantType.of,
            first=first, after=after, last=last, before=before,
        )


@strawberry.type
class TenancyMutation:
    @strawberry.mutation(description="Create a tenant; a district names its city as parentSlug.")
    async def create_tenant(self, info: Info, input: CreateTenantInput) -> TenantType:
        require(info.context.principal, "tenants.manage")  # the platform path: no tenant, no data scope
        tenant = await service.create_tenant(
            slug=input.slug, name=input.name, parent_slug=input.parent_slug, timezone=input.timezone,
            preset=input.preset, actor=info.context.actor,
        )
        return TenantType.of(tenant)

    @strawberry.mutation(description="Activate or deactivate a tenant; tokens of an inactive tenant get 401.")
    async def set_tenant_active(self, info: Info, slug: str, active: bool) -> TenantType:
        require(info.context.principal, "tenants.manage")  # the platform path: no tenant, no data scope
        return TenantType.of(await service.set_tenant_active(slug=slug, active=active))
