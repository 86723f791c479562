"""Demo tenants from the source cities (see shared/DOMAIN.md), seeded idempotently."""

from __future__ import annotations

from tenants.tenancy.models import Tenant
from tenants.tenancy.service import create_tenant, get_tenant_by_slug

DEMO_TENANTS: list[tuple[str, str, str | None]] = [
    ("zhangjiakou", "张家口市", None),
    ("xuanhua", "宣化区", "zhangjiakou"),
    ("xiahuayuan", "下花园区", "zhangjiakou"),
    ("linshu", "临沭县", None),
]


async def seed_demo() -> list[Tenant]:
    out = []
    for slug, name, parent in DEMO_TENANTS:
        tenant = await get_tenant_by_slug(slug)
        if tenant is None:
            tenant = await create_tenant(slug=slug, name=name, parent_slug=parent)
        out.append(tenant)
    return out
