"""The raw limit the benches compare against: an ASGI app on plain asyncpg (one pool without reset, BEGIN and the
tenant's set_config in one message, the statements, COMMIT) answering with orjson."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Answer = Callable[[Any, dict[str, Any]], Awaitable[Any]]


def raw_app(dsn: str, tenant_id: int, answer: Answer, *, pool_size: int) -> Any:
    """``answer(connection, request)`` gives the ``data`` of each request, inside the tenant's transaction."""
    import asyncpg
    import orjson

    pool: asyncpg.Pool | None = None

    async def noop(_: Any) -> None:
        return None

    async def app(scope: dict, receive: Any, send: Any) -> None:
        nonlocal pool
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size, reset=noop)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    assert pool is not None
                    await pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        assert pool is not None
        async with pool.acquire() as conn:
            await conn.execute(f"BEGIN; SELECT set_config('app.tenant_id', '{int(tenant_id)}', true)")
            try:
                data = await answer(conn, orjson.loads(body))
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
        payload = orjson.dumps({"data": data}, default=str)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app
