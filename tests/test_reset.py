"""The suite's own speed-ups are exact: the per-test reset leaves every table empty, every id starting from 1 and
Redis empty; a world restored from what it saved is, row for row and id for id, the world its builder made."""

from __future__ import annotations

from tenants import queue
from tenants.tenancy.service import create_tenant
from tests.fixtures.territory import build
from tests.fixtures.tickets import _two_cities

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tortoise_migrations'"
SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"


async def contents(conn) -> dict[str, list]:
    """Every table's rows (as text, in a stable order) and every sequence's last value."""
    out: dict[str, list] = {}
    for (table,) in await conn.fetch(TABLES):
        out[table] = sorted(str(tuple(r)) for r in await conn.fetch(f'SELECT * FROM "{table}"'))
    out["sequences"] = [tuple(r) for r in await conn.fetch(SEQUENCES) if r[0] != "tortoise_migrations_id_seq"]
    return out


async def test_the_reset_empties_every_table_restarts_every_id_and_flushes_redis(app, reset):
    tenant = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    await build(tenant.id)
    await (await queue.get_pool()).set("left-over", b"1")
    written = await contents(reset.conn)
    assert sum(map(len, written.values())) > 30 and any(v is not None for _, v in written["sequences"])
    await reset()
    after = await contents(reset.conn)
    assert [t for t, rows in after.items() if t != "sequences" and rows] == []
    assert [name for name, last in after["sequences"] if last is not None] == []
    assert await reset.redis.dbsize() == 0
    assert (await create_tenant(slug="linshu", name="临沭县", preset="linshu")).id == 1


async def test_a_restored_world_is_the_world_its_builder_made(app, settings, reset, worlds, once):
    worlds.saved.pop(f"{_two_cities.__module__}.{_two_cities.__qualname__}", None)
    built = await once(_two_cities, settings)  # built afresh, and saved
    made = await contents(reset.conn)
    await reset()
    restored = await once(_two_cities, settings)  # restored from what it saved
    assert await contents(reset.conn) == made  # every row, timestamps included, and every sequence
    assert restored["zhangjiakou"]["ids"] == built["zhangjiakou"]["ids"]
    assert restored["zjk2"]["tenant"].id == built["zjk2"]["tenant"].id
    assert restored is not built and restored["zhangjiakou"] is not built["zhangjiakou"]  # a copy per test
