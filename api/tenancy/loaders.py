"""Tenancy's DataLoaders for one request."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders
from tenants.scope import platform_transaction, scoped_transaction
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import get_tenants_by_ids


class TenancyLoaders(DomainLoaders):
    @property
    def tenant(self) -> DataLoader[int, Tenant | None]:
        """Tenants by id (the platform path reads every tenant, a tenant's request its own chain)."""
        return self.loader("tenant", self._load_tenants)

    async def _load_tenants(self, ids: list[int]) -> list[Tenant | None]:
        if self.loaders.principal.tenant_id is None:
            async with platform_transaction():
                rows = await get_tenants_by_ids(ids)
        else:
            async with scoped_transaction():
                rows = await get_tenants_by_ids(ids)
        by_id = {t.id: t for t in rows}
        return [by_id.get(i) for i in ids]
