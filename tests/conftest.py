"""Fixtures on the real embedded PostgreSQL and Redis: one server pair per session, a clean slate per test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager

from api.embedded import EmbeddedServices
from tenants.db import connect
from tenants.settings import Settings, get_settings
from tenants.tenancy.roles import Role

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-not-for-production-0123456789"


@pytest.fixture(scope="session")
def services() -> Iterator[EmbeddedServices]:
    home = Path(os.environ.get("CIVICGRID_TEST_HOME", ROOT / ".civicgrid" / "test"))
    svc = EmbeddedServices(home, database="civicgrid_test").start()
    svc.recreate_database()
    os.environ.update(
        DATABASE_URL=svc.app_url,
        DATABASE_OWNER_URL=svc.owner_url,
        REDIS_URL=svc.redis_url,
        CIVICGRID_ENV="development",
        CIVICGRID_JWT_SECRET=TEST_SECRET,
        CIVICGRID_HOME=str(svc.home),
        CIVICGRID_WEBHOOK_ALLOW_PRIVATE="true",  # the webhook tests' receiver listens on 127.0.0.1
    )
    get_settings.cache_clear()
    subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ)
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def settings(services: EmbeddedServices) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    from api.app import create_app

    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(autouse=True)
async def clean(services: EmbeddedServices) -> None:
    """Empty every table (as the owner, which TRUNCATE needs) and Redis before each test."""
    conn = await connect(services.owner_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tortoise_migrations'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    r = aioredis.from_url(services.redis_url)
    await r.flushdb()
    await r.aclose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
def token(settings: Settings):
    from api.auth import mint_token

    def make(tenant: str | None, *roles: Role, **kw: Any) -> str:
        return mint_token(settings, roles=list(roles) or [Role.TENANT_ADMIN], tenant_slug=tenant, **kw)

    return make


@pytest.fixture
def gql(client: httpx.AsyncClient):
    async def run(query: str, token: str, variables: dict | None = None, status: int = 200) -> dict:
        resp = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == status, resp.text
        return resp.json()

    return run


@pytest.fixture
async def three_tenants(app: Any) -> list[Any]:
    from tenants.tenancy.service import create_tenant

    return [
        await create_tenant(slug="zhangjiakou", name="张家口市"),
        await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou"),
        await create_tenant(slug="linshu", name="临沭县"),
    ]


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
