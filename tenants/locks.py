"""Transaction-scoped advisory locks: one helper for every "take turns" in the core."""

from __future__ import annotations

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from tenants.scope import current_tenant_id


def lock_key(namespace: str, *ids: object) -> str:
    """``namespace:<tenant>:<id>:...``: the same key in every caller that must queue on the same thing."""
    return ":".join([namespace, str(current_tenant_id()), *map(str, ids)])


async def advisory_lock(namespace: str, *ids: object, conn: BaseDBAsyncClient | None = None) -> None:
    """Wait for the current tenant's advisory lock on ``namespace`` and ``ids``, held until the surrounding
    transaction ends (there is no early release: commit or roll back)."""
    client = conn or connections.get("default")
    await client.execute_query("SELECT pg_advisory_xact_lock(hashtext($1))", [lock_key(namespace, *ids)])


async def advisory_locks(namespace: str, ids: list[int], conn: BaseDBAsyncClient | None = None) -> None:
    """Wait for the current tenant's advisory lock on ``namespace`` and each of ``ids`` (the keys of
    ``advisory_lock(namespace, id)``), in one statement and in key order, so that any two callers queue without
    deadlocking; held until the surrounding transaction ends."""
    if not ids:
        return
    client = conn or connections.get("default")
    await client.execute_query(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtext($1 || p::text) AS k"
        " FROM unnest($2::bigint[]) AS p) AS keys ORDER BY k",
        [lock_key(namespace) + ":", sorted(set(ids))],
    )
