"""Issue 12, point 5 (and 8): the database lost at commit time is a typed, retryable UNAVAILABLE, logged once per
outage; a retry with the same idempotency key then stores exactly one ticket.

The fault is real: a deferred trigger (created by the owner for this test only) terminates the request's own
PostgreSQL backend when the transaction commits, so the commit's outcome is lost exactly as in a restart.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.errors import outage
from tenants.db import connect
from tests.fixtures.tickets import REPORT_TICKET, ticket_input, tickets_of

KILL = """
CREATE FUNCTION test_kill_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.description LIKE 'kill-at-commit%' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_kill_at_commit AFTER INSERT ON ticket DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION test_kill_at_commit();
"""
UNKILL = "DROP TRIGGER IF EXISTS test_kill_at_commit ON ticket; DROP FUNCTION IF EXISTS test_kill_at_commit();"


@pytest.fixture
async def killer(services) -> AsyncIterator[object]:
    """Install the kill-at-commit trigger; the returned object's ``remove()`` ends the outage."""
    conn = await connect(services.owner_url)
    outage.down, outage.failures = False, 0

    class Killer:
        async def remove(self) -> None:
            await conn.execute(UNKILL)

    try:
        await conn.execute(UNKILL + KILL)
        yield Killer()
    finally:
        await conn.execute(UNKILL)
        await conn.close()
        outage.down, outage.failures = False, 0


async def test_a_commit_lost_with_the_database_is_unavailable_and_a_keyed_retry_stores_one(
    two_cities, killer, gql, caplog
):
    c = two_cities["zhangjiakou"]
    doomed = ticket_input(c, description="kill-at-commit 楼道堆放杂物", idempotencyKey="retry-me")
    caplog.set_level(logging.INFO)
    for _ in range(3):
        body = await gql(REPORT_TICKET, c["resident_h1"], {"in": doomed})
        # Before: HTTP 200 with asyncpg's text and no code (or a masked INTERNAL_ERROR with a traceback logged).
        assert body["data"] is None, body
        ext = body["errors"][0]["extensions"]
        assert ext["code"] == "UNAVAILABLE" and ext["retryable"] is True, body
        assert "asyncpg" not in body["errors"][0]["message"].lower()
    assert await tickets_of(c["tenant"].id) == 0  # the commit never happened
    outage_logs = [r for r in caplog.records if r.name == "civicgrid.outage"]
    assert [r.levelno for r in outage_logs] == [logging.ERROR]  # three failures, one line
    assert not [r for r in caplog.records if r.exc_info], "no traceback per request"

    await killer.remove()  # the database is back
    first = await gql(REPORT_TICKET, c["resident_h1"], {"in": doomed})
    again = await gql(REPORT_TICKET, c["resident_h1"], {"in": doomed})
    assert "errors" not in first and "errors" not in again, (first, again)
    assert first["data"]["reportTicket"]["id"] == again["data"]["reportTicket"]["id"]
    assert await tickets_of(c["tenant"].id) == 1
    outage_logs = [r for r in caplog.records if r.name == "civicgrid.outage"]
    assert [r.levelno for r in outage_logs] == [logging.ERROR, logging.WARNING]  # down once, back once
    assert "after 3 failed requests" in outage_logs[1].getMessage()


@pytest.mark.parametrize(
    "fault, code",
    [
        # what PostgreSQL restarts gave in bench/load.py before: "generator didn't yield" and asyncpg's own text
        (lambda: asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
         "UNAVAILABLE"),
        (lambda: asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
         "UNAVAILABLE"),
        (lambda: RuntimeError("a bug of ours"), "INTERNAL_ERROR"),
    ],
)
async def test_a_transaction_that_cannot_begin_is_a_typed_error_and_nothing_runs(
    two_cities, gql, monkeypatch, fault, code
):
    import api.transaction

    c = two_cities["zhangjiakou"]

    @contextlib.asynccontextmanager
    async def lost() -> AsyncIterator[None]:
        raise fault()
        yield  # pragma: no cover - never reached: the transaction fails as it begins

    monkeypatch.setattr(api.transaction, "scoped_transaction", lost)
    outage.down, outage.failures = False, 0
    try:
        body = await gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c, idempotencyKey="never-ran")})
    finally:
        outage.down, outage.failures = False, 0
    assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert "operation" not in body["errors"][0]["message"] and "bug" not in body["errors"][0]["message"]
    monkeypatch.undo()
    assert await tickets_of(c["tenant"].id) == 0
