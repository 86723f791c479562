"""Which brand projects a caller sees (who takes each step: ``brand.*`` in ``tenants.permissions``)."""

from __future__ import annotations

from tenants.permissions import require
from tenants.territory.access import Access, staff_communities


async def visible_communities(access: Access) -> frozenset[int] | None:
    """The communities whose projects the caller sees; None means every community of the tenant."""
    require(access, "brand.read")
    return await staff_communities(access)
