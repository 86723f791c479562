"""Idempotent creates: a client's key names one create, so a retry after a lost response returns what the first
request made instead of making it again.

The key row is inserted first, in the create's own transaction (``INSERT ... ON CONFLICT DO NOTHING``): a
concurrent request with the same key waits on the unique (tenant_id, key) index until the first commits, then
finds its row and replays it; if the first rolled back, the second creates. The same key for another operation
or another user is a conflict (a key never reveals someone else's row).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from tenants.errors import Conflict, InvalidInput, Problem
from tenants.models import TenantModel
from tenants.scope import current_tenant_id, savepoint

MAX_KEY = 128
M = TypeVar("M", bound=Model)


class IdempotencyKey(TenantModel):
    """A create a client named with its idempotency key: the operation, who asked, and the row it made."""

    key = fields.CharField(max_length=MAX_KEY)
    operation = fields.CharField(max_length=64)
    actor = fields.CharField(max_length=128)
    target_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_key"
        unique_together = (("tenant_id", "key"),)


def key_problems(key: str | None) -> list[Problem]:
    if key is None or 0 < len(key.strip()) <= MAX_KEY:
        return []
    return [Problem("idempotencyKey", "length", f"幂等键须为 1 到 {MAX_KEY} 个字符",
                    f"idempotencyKey must have 1 to {MAX_KEY} characters")]


async def claim(key: str, operation: str, actor: str) -> int | None:
    """Claim ``key`` for this create (None: go on and create, then ``record``), or the id of the row the first
    request with this key made. Call inside the create's transaction, before creating."""
    from tenants import clock

    key = key.strip()
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "INSERT INTO idempotency_key (tenant_id, key, operation, actor, created_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id",
            [current_tenant_id(), key, operation, actor, clock.now()],
        )
    if rows:
        return None
    done = await IdempotencyKey.get(key=key)
    if done.operation != operation or done.actor != actor or done.target_id is None:
        raise Conflict("该幂等键已用于另一项操作", "this idempotency key was already used for another request",
                       field="idempotencyKey")
    return done.target_id


async def record(key: str, target_id: int) -> None:
    await IdempotencyKey.filter(key=key.strip()).update(target_id=target_id)


async def once(
    key: str | None, operation: str, actor: str, model: type[M], create: Callable[[], Awaitable[M]]
) -> M:
    """``create()`` once per key: without a key it simply creates; with one, a retry (or a concurrent duplicate)
    gets the row the first request made. Inside the operation's transaction, so a refused create frees the key."""
    if key is None:
        return await create()
    if problems := key_problems(key):
        raise InvalidInput.of(problems)
    if (done := await claim(key, operation, actor)) is not None:
        return await model.get(pk=done)
    made = await create()
    await record(key, made.pk)
    return made


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def idempotent(
    operation: str | Callable[..., str], model: type[Model] | Callable[..., type[Model]]
) -> Callable[[F], F]:
    """A create service that also takes ``idempotency_key`` (keyword, default None): with a key, a retry (or a
    concurrent duplicate) returns the row the first call made, in one transaction with the create. ``operation`` and
    ``model`` may be functions of the call's arguments (``create_area``'s level, ``submit``'s correction). The one
    way creates are made idempotent: GraphQL passes the client's key through, jobs and the CLI pass none."""

    def wrap(create: F) -> F:
        @functools.wraps(create)
        async def run(*args: Any, idempotency_key: str | None = None, **kwargs: Any) -> Any:
            if idempotency_key is None:
                return await create(*args, **kwargs)
            op = operation(*args, **kwargs) if callable(operation) else operation
            kind = model if isinstance(model, type) else model(*args, **kwargs)
            async with savepoint():
                return await once(idempotency_key, op, kwargs["actor"], kind, lambda: create(*args, **kwargs))

        return run  # type: ignore[return-value]

    return wrap
