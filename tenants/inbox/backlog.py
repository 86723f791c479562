"""The notification backlog an operator watches: webhook deliveries still to be sent, per active tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tenants.scope import tenant_transaction
from tenants.tenancy.service import active_tenants

# One index range per tenant (tenant_id, status, next_attempt_at): how many are pending, and the oldest due one.
_PENDING = """
SELECT count(*) AS pending, min(next_attempt_at) FILTER (WHERE next_attempt_at <= $2) AS oldest_due
FROM webhook_delivery WHERE tenant_id = $1 AND status = 'pending'
"""


@dataclass(frozen=True)
class Backlog:
    tenant_slug: str
    pending: int
    oldest_due_seconds: float  # how long the oldest due delivery has waited (0: none is due)


async def webhook_backlog(*, now: datetime) -> list[Backlog]:
    """Pending webhook deliveries of every active tenant (one short read in each tenant's own scope)."""
    out = []
    for t in await active_tenants():
        async with tenant_transaction(t.id) as conn:
            row = (await conn.execute_query_dict(_PENDING, [t.id, now]))[0]
        oldest = row["oldest_due"]
        out.append(Backlog(t.slug, int(row["pending"]), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0))
    return out
