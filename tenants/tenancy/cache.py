"""The tenants a process has seen, kept in memory: a token's tenant without a transaction, a tenant's time zone
and parent without a query.

What never changes after a tenant is created (id, slug, parent, time zone) is kept for the life of the process.
Whether a tenant is active is kept for ``ttl`` seconds (CIVICGRID_TENANT_CACHE_SECONDS): a tenant deactivated in
this process is forgotten at once (``forget``), one deactivated by another process (a second API worker, the
CLI) is refused by every process within ``ttl`` seconds. A tenant not found is never kept (it may be created next).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from tenants.scope import platform_transaction, scoped_transaction
from tenants.tenancy.models import Tenant


@dataclass(frozen=True)
class TenantInfo:
    id: int
    slug: str
    name: str
    parent_id: int | None
    timezone: str
    is_active: bool

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def of(cls, tenant: Tenant) -> TenantInfo:
        return cls(tenant.id, tenant.slug, tenant.name, tenant.parent_id, tenant.timezone, tenant.is_active)


_by_slug: dict[str, tuple[float, TenantInfo]] = {}  # slug -> (monotonic time it was read, the tenant)
_by_id: dict[int, TenantInfo] = {}


def remember(tenant: Tenant) -> TenantInfo:
    info = TenantInfo.of(tenant)
    _by_slug[info.slug] = (time.monotonic(), info)
    _by_id[info.id] = info
    return info


def forget(slug: str) -> None:
    """Read ``slug`` afresh on its next use (a tenant created, activated or deactivated in this process)."""
    _by_slug.pop(slug, None)


_on_clear: list[Callable[[], None]] = []


def on_clear(callback: Callable[[], None]) -> None:
    """Clear another per-tenant memory with this one (tenant ids are reused after the tests' TRUNCATE)."""
    _on_clear.append(callback)


def clear() -> None:
    _by_slug.clear()
    _by_id.clear()
    for callback in _on_clear:
        callback()


async def by_slug(slug: str, *, ttl: float) -> TenantInfo | None:
    """The tenant ``slug`` as read at most ``ttl`` seconds ago (the platform path on a miss), None if unknown."""
    hit = _by_slug.get(slug)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    async with platform_transaction():
        tenant = await Tenant.get_or_none(slug=slug)
    if tenant is None:
        _by_slug.pop(slug, None)
        return None
    return remember(tenant)


async def by_id(tenant_id: int) -> TenantInfo:
    """A tenant the scope may read (its own row or its parent's), for what does not change: slug, parent, zone."""
    info = _by_id.get(tenant_id)
    if info is None:
        async with scoped_transaction():
            info = TenantInfo.of(await Tenant.get(id=tenant_id))
        _by_id[tenant_id] = info
    return info
