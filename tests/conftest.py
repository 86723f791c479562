"""Fixtures on the real embedded PostgreSQL and Redis: one server pair per session, a clean slate per test."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
import tortoise
from asgi_lifespan import LifespanManager

from api.embedded import APP_ROLE, EmbeddedServices
from tenants.settings import Settings, get_settings
from tenants.tenancy.roles import Role
from tests.fixtures.reset import Reset, Worlds

# The shared builders' pytest fixtures (tests/fixtures/), available to every test module by name.
pytest_plugins = [
    "tests.fixtures.assessment",
    "tests.fixtures.config",
    "tests.fixtures.dual",
    "tests.fixtures.dual_lists",
    "tests.fixtures.dual_activities",
    "tests.fixtures.dual_rules",
    "tests.fixtures.dual_emergency",
    "tests.fixtures.meetings",
    "tests.fixtures.interviews",
    "tests.fixtures.managers",
    "tests.fixtures.money",
    "tests.fixtures.points",
    "tests.fixtures.points_grids",
    "tests.fixtures.points_vouchers",
    "tests.fixtures.tickets",
]

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-not-for-production-0123456789"
# The hour (UTC) every test starts at, today: 17:30 UTC is 01:30 tomorrow in Beijing, the window in which the
# server's date and a tenant's differ. `CIVICGRID_TEST_CLOCK=09:00 make test` runs the suite at another hour;
# `off` on the real clock. Subprocesses follow through tests/clockhook/sitecustomize.py.
TEST_CLOCK = os.environ.get("CIVICGRID_TEST_CLOCK", "17:30")
REBUILD = os.environ.get("CIVICGRID_TEST_WORLDS") == "rebuild"
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "tests" / "clockhook"), os.environ.get("PYTHONPATH")) if p
)


def suite_start(day: date | None = None) -> datetime | None:
    """Where each test's clock starts: today (the real UTC date, or ``day``) at ``TEST_CLOCK``, or None for the real
    clock."""
    if TEST_CLOCK == "off":
        return None
    return datetime.combine(day or datetime.now(UTC).date(), time.fromisoformat(TEST_CLOCK), tzinfo=UTC)


@contextmanager
def clock_at(start: datetime) -> Iterator[datetime]:
    """Run the code inside, and the subprocesses it starts, on a clock that starts at ``start`` and ticks."""
    outer = os.environ.get("CIVICGRID_TEST_CLOCK_OFFSET")  # set when this runs on the suite's clock already
    real_now = datetime.now(UTC).timestamp() - float(outer or 0)
    offset = start.timestamp() - real_now
    with time_machine.travel(start, tick=True):
        datetime.now(UTC)  # the clock ticks from its first reading: start it now, in step with the subprocesses'
        os.environ["CIVICGRID_TEST_CLOCK_OFFSET"] = repr(offset)
        try:
            yield start
        finally:
            if outer is None:
                os.environ.pop("CIVICGRID_TEST_CLOCK_OFFSET", None)
            else:
                os.environ["CIVICGRID_TEST_CLOCK_OFFSET"] = outer


# Tests whose data carries dates of their own (points earned on 2026-01-15 expire on 2027-01-15) run on this day
# (at ``TEST_CLOCK``) whatever the real date: `pytestmark = pytest.mark.on_day(date(2026, 12, 1))` in the module.
def _day_of(request: pytest.FixtureRequest) -> date | None:
    marker = request.node.get_closest_marker("on_day")
    return marker.args[0] if marker else None


@pytest.fixture(autouse=True)
def suite_clock(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """Every test runs on a clock that starts at ``suite_start()`` and ticks; its subprocesses on the same one."""
    start = suite_start(_day_of(request))
    if start is None:
        yield None
        return
    with clock_at(start):
        yield start


def migrated_database(svc: EmbeddedServices) -> None:
    """A fresh database with every migration applied: a copy of the template the last session left if the
    migrations (and the code that applies them) are the same, else `civicgrid migrate` on an empty one (5-7 s on
    2 busy cores, against 1-3 s for the whole start with the copy), kept as the template of the next session."""
    migrations = sorted((ROOT / "tenants" / "migrations").glob("*.py"))
    imported = {m for path in migrations for m in re.findall(r"^from (tenants\.[\w.]+) import", path.read_text(), re.M)}
    sources = [*migrations, *(ROOT / f"{m.replace('.', '/')}.py" for m in sorted(imported)),
               ROOT / "tenants" / "db.py", ROOT / "api" / "cli.py", ROOT / "api" / "embedded.py"]
    digest = hashlib.sha256(tortoise.__version__.encode())
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    key, template = digest.hexdigest()[:32], f"{svc.database}_migrated"
    found = svc.psql(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{template}';")
    if key in found:
        svc.recreate_database(template=template)
        svc.psql(f'GRANT CONNECT ON DATABASE "{svc.database}" TO {APP_ROLE};')  # a database's own grant
        return
    svc.recreate_database()
    subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ)
    svc.psql(f'DROP DATABASE IF EXISTS "{template}"; CREATE DATABASE "{template}" TEMPLATE "{svc.database}";'
             f" COMMENT ON DATABASE \"{template}\" IS '{key}';")


@pytest.fixture(scope="session")
def services() -> Iterator[EmbeddedServices]:
    home = Path(os.environ.get("CIVICGRID_TEST_HOME", ROOT / ".civicgrid" / "test"))
    svc = EmbeddedServices(home, database="civicgrid_test").start()
    # A throwaway cluster: durability buys nothing here, and flushing it costs seconds per run and at shutdown.
    svc.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
             " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();")
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
    migrated_database(svc)
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


@pytest.fixture(scope="session")
async def reset(services: EmbeddedServices) -> AsyncIterator[Reset]:
    r = await Reset.open(services.owner_url, services.redis_url)
    yield r
    await r.close()


@pytest.fixture(autouse=True)
async def clean(reset: Reset) -> None:
    """Empty every table and Redis before each test (tests/fixtures/reset.py)."""
    await reset()


@pytest.fixture(scope="session")
def worlds(reset: Reset) -> Worlds:
    return Worlds(reset)


@pytest.fixture
def once(worlds: Worlds) -> Iterator[Callable[..., Awaitable[Any]]]:
    """``await once(build, *args)``: the world ``build`` makes, built on its first use in the session and restored
    from what it saved after (tests/fixtures/reset.py), the test's clock starting where the builder's ended.
    ``build`` takes the same arguments on every use (session fixtures such as ``settings``).
    ``CIVICGRID_TEST_WORLDS=rebuild`` builds every time."""
    with ExitStack() as stack:

        async def run(build: Callable[..., Awaitable[Any]], *args: Any) -> Any:
            key = f"{build.__module__}.{build.__qualname__}"
            saved = worlds.saved.get(key)
            if saved is None or REBUILD:
                value = await build(*args)
                worlds.saved[key] = await worlds.save(value)
                return value
            value = await worlds.restore(saved)
            if saved.built_at > datetime.now(UTC):  # on the suite's clock: as if the builder had just run
                stack.enter_context(clock_at(saved.built_at))
            return value

        yield run


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
async def three_tenants(app: Any, once: Callable[..., Awaitable[Any]]) -> list[Any]:
    return await once(_three_tenants)  # type: ignore[no-any-return]


async def _three_tenants() -> list[Any]:
    from tenants.tenancy.service import create_tenant

    return [
        await create_tenant(slug="zhangjiakou", name="张家口市"),
        await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou"),
        await create_tenant(slug="linshu", name="临沭县"),
    ]


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
