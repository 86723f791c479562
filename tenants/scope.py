"""The tenant scope: one ContextVar, and the transactions that carry it to PostgreSQL row-level security.

Every tenant-owned table is protected by a policy on ``app.tenant_id``; ``scoped_transaction`` sets it with
``set_config(..., true)`` so it lives exactly as long as the transaction. Platform-wide work (creating tenants,
fanning jobs out over tenants) takes the separate, explicit ``platform_transaction`` path, which opens only the
``tenant`` table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import connections
from tortoise.transactions import in_transaction

from tenants import db, queue
from tenants.errors import TenantScopeMissing

_tenant_id: ContextVar[int | None] = ContextVar("civicgrid_tenant_id", default=None)
_in_scoped_tx: ContextVar[int | None] = ContextVar("civicgrid_scoped_tx_tenant", default=None)
_in_platform_tx: ContextVar[bool] = ContextVar("civicgrid_platform_tx", default=False)
_on_commit: ContextVar[list[Callable[[], object]] | None] = ContextVar(
    "civicgrid_on_commit", default=None
)


def current_tenant_id() -> int:
    """The tenant in scope; raises ``TenantScopeMissing`` when there is none."""
    tenant_id = _tenant_id.get()
    if tenant_id is None:
        raise TenantScopeMissing()
    return tenant_id


async def tenant_rows(sql: str, args: list[Any]) -> list[dict[str, Any]]:
    """Run ``sql`` on the current transaction's connection with the tenant in scope as ``$1`` and ``args`` as
    ``$2``...: the rows as dicts (statements that claim rows with a conditional UPDATE ... RETURNING, say)."""
    return await connections.get("default").execute_query_dict(sql, [current_tenant_id(), *args])


def peek_tenant_id() -> int | None:
    return _tenant_id.get()


@contextmanager
def tenant_context(tenant_id: int) -> Iterator[None]:
    """Put ``tenant_id`` in scope for the code inside (no database work yet)."""
    if not isinstance(tenant_id, int) or tenant_id <= 0:
        raise ValueError(f"invalid tenant id {tenant_id!r}")
    outer = _tenant_id.get()
    if outer is not None and outer != tenant_id:
        raise RuntimeError("refusing to switch tenants inside another tenant's scope")
    token = _tenant_id.set(tenant_id)
    try:
        yield
    finally:
        _tenant_id.reset(token)


@asynccontextmanager
async def scoped_transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction bound to the tenant in scope, for RLS. Inside another one it joins it (no savepoint:
    sibling GraphQL fields run concurrently on the request's connection, and savepoints cannot interleave).

    Jobs queued inside are sent to Redis only after the outermost transaction commits.
    """
    tenant_id = current_tenant_id()
    if _in_platform_tx.get():
        raise RuntimeError("tenant work cannot run inside a platform transaction")
    outer_tx_tenant = _in_scoped_tx.get()
    if outer_tx_tenant is not None:
        if outer_tx_tenant != tenant_id:
            raise RuntimeError("refusing to nest a different tenant's transaction")
        yield connections.get("default")
        return
    token = _in_scoped_tx.set(tenant_id)
    committed: list[Callable[[], object]] = []
    waiting = _on_commit.set(committed)
    try:
        # BEGIN and the scope in one round trip (the id is an int checked by tenant_context, never text).
        async with queue.after_commit(), db.transaction(f"SELECT civicgrid_enter_tenant({int(tenant_id)})") as conn:
            yield conn
    finally:
        _on_commit.reset(waiting)
        _in_scoped_tx.reset(token)
    for callback in committed:  # reached only when the transaction committed
        callback()


@asynccontextmanager
async def tenant_transaction(tenant_id: int) -> AsyncIterator[BaseDBAsyncClient]:
    """``tenant_context`` and ``scoped_transaction`` together: the usual way into one tenant's data."""
    with tenant_context(tenant_id):
        async with scoped_transaction() as conn:
            yield conn


@asynccontextmanager
async def savepoint() -> AsyncIterator[BaseDBAsyncClient]:
    """A block that rolls back on its own when it raises: a savepoint inside a tenant transaction, or a new
    scoped transaction. Only for sequential work (mutations, jobs), never for concurrently resolved fields."""
    if _in_scoped_tx.get() is None:
        async with scoped_transaction() as conn:
            yield conn
        return
    current_tenant_id()
    async with queue.after_commit(), in_transaction() as conn:
        yield conn


def in_scoped_transaction() -> bool:
    return _in_scoped_tx.get() is not None


@asynccontextmanager
async def platform_transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """The explicit platform path: sees every row of ``tenant`` and nothing of any tenant's data.

    Inside another platform transaction it joins it, so a platform GraphQL operation is one transaction.
    """
    if _in_scoped_tx.get() is not None:
        raise RuntimeError("platform work cannot run inside a tenant's transaction")
    if _in_platform_tx.get():
        yield connections.get("default")
        return
    token = _in_platform_tx.set(True)
    committed: list[Callable[[], object]] = []
    waiting = _on_commit.set(committed)
    try:
        async with queue.after_commit(), db.transaction("SELECT set_config('app.platform', 'on', true)") as conn:
            yield conn
    finally:
        _on_commit.reset(waiting)
        _in_platform_tx.reset(token)
    for callback in committed:  # reached only when the transaction committed
        callback()


def on_commit(callback: Callable[[], object]) -> None:
    """Run ``callback`` once the outermost transaction in progress (a tenant's or the platform's) commits, never
    if it rolls back; at once outside one. For what a process keeps in memory of stored rows (the tenant cache,
    the configuration versions of tenants.config.watch)."""
    pending = _on_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)
