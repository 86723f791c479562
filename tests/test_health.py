"""/healthz says the process is up; /readyz checks PostgreSQL and Redis and names what is down."""

from __future__ import annotations

from pathlib import Path

from httpx import ASGITransport, AsyncClient

from api.app import create_app
from api.embedded import EmbeddedServices


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_readyz_names_a_stopped_redis(settings, app, tmp_path: Path):
    spare = EmbeddedServices(tmp_path)
    spare.home = tmp_path
    spare.start_redis()
    other = create_app(settings.model_copy(update={"redis_url": spare.redis_url}))
    async with AsyncClient(transport=ASGITransport(app=other), base_url="http://test") as c:
        assert (await c.get("/readyz")).status_code == 200
        spare.stop_redis()
        resp = await c.get("/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable" and body["failing"] == ["redis"]
    assert body["checks"]["database"] == "ok" and "Error" in body["checks"]["redis"]
