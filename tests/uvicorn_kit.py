"""A real uvicorn with the settings `civicgrid api` runs with (api/server.py), serving a test's app on a free port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from api.server import uvicorn_options
from tenants.settings import Settings


@contextlib.asynccontextmanager
async def serving(app: Any, settings: Settings) -> AsyncIterator[int]:
    """The port of a uvicorn serving ``app`` (its lifespan is the caller's), stopped on exit."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                            **uvicorn_options(settings))
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    for _ in range(200):  # bounded: up to 10 s for the socket
        if srv.started:
            break
        await asyncio.sleep(0.05)
    assert srv.started
    try:
        yield srv.servers[0].sockets[0].getsockname()[1]
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, 10)
