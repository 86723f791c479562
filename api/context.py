"""The typed GraphQL context: principal, tenant and per-request DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as _Info

from api.auth import Principal
from tenants.errors import Forbidden
from tenants.scope import platform_transaction, scoped_transaction
from tenants.settings import Settings
from tenants.tenancy.models import Tenant
from tenants.tenancy.roles import Role
from tenants.tenancy.service import get_tenants_by_ids


@dataclass
class Loaders:
    """One set per request, so batching and caching never cross requests or tenants."""

    principal: Principal
    tenant: DataLoader[int, Tenant | None] = field(init=False)

    def __post_init__(self) -> None:
        self.tenant = DataLoader(load_fn=self._load_tenants)

    async def _load_tenants(self, ids: list[int]) -> list[Tenant | None]:
        if self.principal.tenant_id is None:
            async with platform_transaction():
                rows = await get_tenants_by_ids(ids)
        else:
            async with scoped_transaction():
                rows = await get_tenants_by_ids(ids)
        by_id = {t.id: t for t in rows}
        return [by_id.get(i) for i in ids]


@dataclass
class Context:
    request: Request
    response: Response
    settings: Settings
    principal: Principal
    loaders: Loaders

    @property
    def tenant_id(self) -> int | None:
        """The tenant this request is scoped to (None on the platform path)."""
        return self.principal.tenant_id

    def require(self, *roles: Role) -> Principal:
        """The principal, if it holds one of ``roles``; otherwise a ``FORBIDDEN`` error."""
        if not self.principal.has_any(*roles):
            names = ", ".join(r.value for r in roles)
            raise Forbidden(f"需要以下角色之一：{names}", f"requires one of the roles: {names}")
        return self.principal


Info = _Info[Context, None]
