"""Issue 12, point 8 (API): a client that disconnects mid-body is no ERROR log and gets no half-read request run."""

from __future__ import annotations

import json
import logging

from tests.fixtures.tickets import REPORT_TICKET, ticket_input, tickets_of


async def test_a_client_gone_mid_body_is_not_an_error_and_runs_nothing(two_cities, app, caplog):
    c = two_cities["zhangjiakou"]
    body = json.dumps({"query": REPORT_TICKET, "variables": {"in": ticket_input(c)}}).encode()
    messages = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "scheme": "http", "http_version": "1.1", "server": ("test", 80), "client": None,
             "headers": [(b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {c['resident_h1']}".encode())]}
    caplog.set_level(logging.INFO)
    await app(scope, receive, send)  # before: the half body was parsed and answered 400 (or the read raised)
    assert sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
    assert await tickets_of(c["tenant"].id) == 0
