"""What a login subject's records grant now: the roles and scope of their active posts in a tenant, read per request
and kept briefly, so that an ended post stops granting access within seconds, not at the token's expiry.

An entry lives ``ttl`` seconds (CIVICGRID_GRANTS_CACHE_SECONDS); a change made in this process (a person
registered, a post assigned or ended) forgets that subject's entry at once and again at commit; one made by another
process (a second API worker, the CLI) is seen by every process within ``ttl``. Tenant ids come back after a
test's reset, so the tenant cache's ``clear`` clears this one too.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from tenants.scope import tenant_transaction
from tenants.tenancy import cache as tenant_cache
from tenants.tenancy.service import active_tenants
from tenants.territory import people_service
from tenants.territory.people_service import Claims, claims_of_user

SIZE = 10_000  # entries kept per process (a county's staff and its active residents)

_grants: OrderedDict[tuple[int, str], tuple[float, Claims | None]] = OrderedDict()
# A subject's tenants, for a token that names none (an identity provider's): user id -> (read at, (id, slug)...).
_homes: OrderedDict[str, tuple[float, tuple[tuple[int, str], ...]]] = OrderedDict()


def _fresh(at: float, ttl: float) -> bool:
    return time.monotonic() - at < ttl


async def grants_in(tenant_id: int, user_id: str, *, ttl: float) -> Claims | None:
    """The roles and scope ``user_id``'s records grant in the tenant today, as read at most ``ttl`` seconds ago;
    None when no person with that user id is registered there (empty roles: registered, but nothing held today)."""
    key = (tenant_id, user_id)
    hit = _grants.get(key)
    if hit is not None and _fresh(hit[0], ttl):
        _grants.move_to_end(key)
        return hit[1]
    claims = await _read(tenant_id, user_id)
    _keep(key, claims)
    return claims


async def _read(tenant_id: int, user_id: str) -> Claims | None:
    async with tenant_transaction(tenant_id):
        return await claims_of_user(user_id)


def _keep(key: tuple[int, str], claims: Claims | None) -> None:
    _grants[key] = (time.monotonic(), claims)
    _grants.move_to_end(key)
    while len(_grants) > SIZE:
        _grants.popitem(last=False)


async def homes(user_id: str, *, ttl: float) -> tuple[tuple[int, str], ...]:
    """The active tenants (id, slug) where ``user_id``'s records grant at least one role today, as found at most
    ``ttl`` seconds ago. A tenant's rows are read only inside its own scope: one short transaction per tenant, on a
    miss (a deployment serves a city and its districts, a handful of tenants)."""
    hit = _homes.get(user_id)
    if hit is not None and _fresh(hit[0], ttl):
        _homes.move_to_end(user_id)
        return hit[1]
    found = []
    for tenant in await active_tenants():
        key = (tenant.id, user_id)
        kept = _grants.get(key)
        claims = kept[1] if kept is not None and _fresh(kept[0], ttl) else await _read(tenant.id, user_id)
        if claims is not None and claims.roles:
            found.append((tenant.id, tenant.slug))
            _keep(key, claims)  # only where the subject holds something: strangers fill one entry, in _homes
    _homes[user_id] = (time.monotonic(), tuple(found))
    while len(_homes) > SIZE:
        _homes.popitem(last=False)
    return tuple(found)


def forget(tenant_id: int, user_id: str) -> None:
    """Read this subject afresh on their next request (their person or a post of theirs changed in this process);
    everybody else's entries stay."""
    _grants.pop((tenant_id, user_id), None)
    _homes.pop(user_id, None)


def clear() -> None:
    _grants.clear()
    _homes.clear()


tenant_cache.on_clear(clear)
people_service.on_change.append(forget)
