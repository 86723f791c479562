"""Webhooks: endpoints managed by tenant admins, every notification delivered HMAC-signed to a receiver on
localhost, retried with back-off when it fails, and the failure visible in GraphQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.people import PostKind
from tenants.tickets import webhooks
from tenants.tickets.models import WebhookDelivery
from tests.test_ticket_reminders import HOUR, MIN, T0, gql, inbox, principal, report, staff, ticks
from tests.test_ticket_reminders import zjk as zjk  # the fixture

SECRET = "s3cret-for-the-receiver-0123"
SECOND = timedelta(seconds=1)


@dataclass
class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records each request and answers with ``status``."""

    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines if ":" in ln)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        answer = b"ok" if self.status < 300 else b"receiver is down"
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(answer)}\r\nConnection: close\r\n\r\n".encode() + answer
        )
        await writer.drain()
        writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/civicgrid"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    server = await asyncio.start_server(r.handle, "127.0.0.1", 0)
    r.port = server.sockets[0].getsockname()[1]
    async with server:
        yield r


CREATE = """mutation($url: String!, $secret: String!) { createWebhookEndpoint(url: $url, secret: $secret)
  { id url isActive secretHint } }"""
DEACTIVATE = "mutation($id: ID!) { deactivateWebhookEndpoint(id: $id) { isActive } }"
DELIVERIES = """query($status: WebhookDeliveryStatus) { webhookDeliveries(status: $status) { edges { node {
  id event status attempts lastError deliveredAt nextAttemptAt payload } } } }"""


async def deliver(tenant, at: datetime) -> dict:
    with tenant_context(tenant.id):
        return await webhooks.deliver_due(now=at)


def verify(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """What a receiver does: recompute the HMAC over ``{timestamp}.{body}`` and compare in constant time."""
    expected = hmac.new(secret.encode(), f"{headers['x-civicgrid-timestamp']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-civicgrid-signature"], "sha256=" + expected.hexdigest())


async def test_tenant_admins_manage_endpoints_with_typed_errors(zjk):
    t = zjk["tenant"]
    admin = principal(t, "admin")
    bad = await gql(admin, CREATE, {"url": "ftp://example.org/x", "secret": "short"})
    ext = bad["errors"][0]["extensions"]
    assert ext["code"] == "INVALID_INPUT"
    assert [(p["field"], p["reason"]) for p in ext["problems"]] == [("url", "format"), ("secret", "length")]
    worker = principal(t, "cw-1", Role.COMMUNITY_WORKER)
    denied = await gql(worker, CREATE, {"url": "https://example.org/hook", "secret": SECRET})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(worker, "{ webhookEndpoints { id } }"))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = await gql(admin, CREATE, {"url": "https://example.org/hook", "secret": SECRET})
    assert made["data"]["createWebhookEndpoint"]["secretHint"] == "…0123" and not made["errors"]
    listed = await gql(admin, "{ webhookEndpoints { url isActive } }")
    assert listed["data"]["webhookEndpoints"] == [{"url": "https://example.org/hook", "isActive": True}]
    endpoint_id = made["data"]["createWebhookEndpoint"]["id"]
    off = await gql(admin, DEACTIVATE, {"id": endpoint_id})
    assert off["data"]["deactivateWebhookEndpoint"] == {"isActive": False}
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    gone = await gql(principal(other, "admin"), DEACTIVATE, {"id": endpoint_id})
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # another tenant's endpoint does not exist
    assert (await gql(principal(other, "admin"), "{ webhookEndpoints { id } }"))["data"]["webhookEndpoints"] == []


async def test_a_receiver_on_localhost_gets_signed_reminders_once(zjk, receiver):
    t, ids = zjk["tenant"], zjk["ids"]
    admin = principal(t, "admin")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    assert not (await gql(admin, CREATE, {"url": receiver.url, "secret": SECRET}))["errors"]
    with tenant_context(t.id):
        ticket = await report(ids, "parking_disorder", T0)
        assert (await ticks(T0 + 2 * HOUR + 45 * MIN))[0]["due_soon"] == 1
    at = T0 + 2 * HOUR + 46 * MIN
    assert await deliver(t, at) == {"claimed": 1, "delivered": 1, "retrying": 0, "failed": 0}
    assert await deliver(t, at + MIN) == {"claimed": 0, "delivered": 0, "retrying": 0, "failed": 0}
    assert await deliver(other, at) == {"claimed": 0, "delivered": 0, "retrying": 0, "failed": 0}
    [(headers, body)] = receiver.requests
    assert verify(headers, body, SECRET) and not verify(headers, body, SECRET + "x")
    assert headers["x-civicgrid-timestamp"] == str(int(at.timestamp()))
    assert headers["x-civicgrid-event"] == "ticket.due_soon"
    payload = json.loads(body)
    assert payload["event"] == "ticket.due_soon" and payload["ticketId"] == ticket.id
    assert payload["recipient"] == "cw-1" and payload["title"] == "工单即将超时" and "乱停乱放" in payload["body"]
    assert datetime.fromisoformat(payload["createdAt"]) == T0 + 2 * HOUR + 45 * MIN
    body = await gql(admin, DELIVERIES, {"status": "DELIVERED"})
    [node] = [e["node"] for e in body["data"]["webhookDeliveries"]["edges"]]
    assert (node["status"], node["attempts"], node["lastError"]) == ("DELIVERED", 1, None)
    assert node["id"] == headers["x-civicgrid-delivery"]
    # The escalation is another notification to two people: two more deliveries.
    with tenant_context(t.id):
        await ticks(T0 + 3 * HOUR + MIN)
    assert (await deliver(t, T0 + 3 * HOUR + 2 * MIN))["delivered"] == 2
    assert sorted(json.loads(b)["recipient"] for _, b in receiver.requests[1:]) == ["cw-1", "so-1"]
    assert all(verify(h, b, SECRET) for h, b in receiver.requests)


async def test_a_failing_receiver_is_retried_with_back_off_then_marked_failed(zjk, receiver):
    t, ids = zjk["tenant"], zjk["ids"]
    admin = principal(t, "admin")
    receiver.status = 500
    assert not (await gql(admin, CREATE, {"url": receiver.url, "secret": SECRET}))["errors"]
    with tenant_context(t.id):
        await staff("admin-1", PostKind.TENANT_ADMIN, None, None)
        await report(ids, "parking_disorder", T0)
        await ticks(T0 + 2 * HOUR + 45 * MIN)
    start = T0 + 2 * HOUR + 45 * MIN
    # Attempts at 0, +1, +3, +7, +15 and +31 minutes (back-off 1, 2, 4, 8, 16); a second early, nothing is due.
    for attempt, minute in enumerate((0, 1, 3, 7, 15, 31), start=1):
        if attempt > 1:
            assert (await deliver(t, start + minute * MIN - SECOND))["claimed"] == 0
        result = await deliver(t, start + minute * MIN)
        assert result["claimed"] == 1 and result["failed" if attempt == 6 else "retrying"] == 1, (attempt, result)
    assert len(receiver.requests) == 6
    assert all(verify(h, b, SECRET) for h, b in receiver.requests)
    assert (await deliver(t, start + 24 * 60 * MIN))["claimed"] == 0  # given up for good
    body = await gql(admin, DELIVERIES, {"status": "FAILED"})
    [node] = [e["node"] for e in body["data"]["webhookDeliveries"]["edges"]]
    assert node["attempts"] == 6 and node["lastError"] == "HTTP 500: receiver is down"
    assert (await gql(admin, DELIVERIES, {"status": "PENDING"}))["data"]["webhookDeliveries"]["edges"] == []
    # The administrators hear of it in their inbox (and only there, not through the failing webhook).
    assert await inbox(t, "admin-1") == [("webhook.failed", node["payload"]["ticketId"])]


async def test_an_unreachable_or_deactivated_endpoint_is_recorded(zjk, receiver):
    t, ids = zjk["tenant"], zjk["ids"]
    admin = principal(t, "admin")
    dead = await gql(admin, CREATE, {"url": "http://127.0.0.1:9/nothing-listens", "secret": SECRET})
    live = await gql(admin, CREATE, {"url": receiver.url, "secret": SECRET})
    with tenant_context(t.id):
        await report(ids, "parking_disorder", T0)
        await ticks(T0 + 2 * HOUR + 45 * MIN)
    at = T0 + 2 * HOUR + 46 * MIN
    assert await deliver(t, at) == {"claimed": 2, "delivered": 1, "retrying": 1, "failed": 0}
    async with tenant_transaction(t.id):
        pending = await WebhookDelivery.get(status="pending")
    assert pending.endpoint_id == int(dead["data"]["createWebhookEndpoint"]["id"])
    assert pending.last_error.startswith("ConnectError") and pending.next_attempt_at == at + MIN  # type: ignore[union-attr]
    await gql(admin, DEACTIVATE, {"id": dead["data"]["createWebhookEndpoint"]["id"]})
    assert (await deliver(t, at + MIN))["failed"] == 1
    async with tenant_transaction(t.id):
        failed = await WebhookDelivery.get(id=pending.id)
    assert (failed.status, failed.last_error) == ("failed", "endpoint deactivated")
    assert live["data"]["createWebhookEndpoint"]["isActive"] and len(receiver.requests) == 1
    # Delivery never runs inside a transaction: the HTTP call would hold it open.
    with pytest.raises(RuntimeError):
        async with tenant_transaction(t.id):
            await webhooks.deliver_due(now=at)


async def test_private_addresses_are_refused_outside_development(zjk, monkeypatch):
    from tenants.errors import InvalidInput
    from tenants.settings import get_settings
    from tenants.tickets import webhooks

    monkeypatch.setenv("CIVICGRID_WEBHOOK_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    try:
        with tenant_context(zjk["tenant"].id):
            for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook"):
                with pytest.raises(InvalidInput) as err:
                    await webhooks.create_endpoint(url=url, secret="s" * 20)
                assert err.value.problems[0].reason == "private"
        assert "private address" in (await webhooks._refused_host("http://localhost:8080/x") or "")
    finally:
        monkeypatch.delenv("CIVICGRID_WEBHOOK_ALLOW_PRIVATE")
        get_settings.cache_clear()
