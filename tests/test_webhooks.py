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

from tenants.inbox import outbound, webhooks
from tenants.inbox.models import WebhookDelivery
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.access import SYSTEM
from tenants.territory.people import PostKind
from tests.fixtures.ids import db_id
from tests.fixtures.territory import staff
from tests.fixtures.tickets import HOUR, MIN, T0, inbox, inbox_gql, principal, report, ticks

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


async def test_tenant_admins_manage_endpoints_with_typed_errors(staffed_zjk):
    t = staffed_zjk["tenant"]
    admin = principal(t, "admin")
    bad = await inbox_gql(admin, CREATE, {"url": "ftp://example.org/x", "secret": "short"})
    ext = bad["errors"][0]["extensions"]
    assert ext["code"] == "INVALID_INPUT"
    assert [(p["field"], p["reason"]) for p in ext["problems"]] == [("url", "format"), ("secret", "length")]
    worker = principal(t, "cw-1", Role.COMMUNITY_WORKER)
    denied = await inbox_gql(worker, CREATE, {"url": "https://example.org/hook", "secret": SECRET})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await inbox_gql(worker, "{ webhookEndpoints { id } }"))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = await inbox_gql(admin, CREATE, {"url": "https://example.org/hook", "secret": SECRET})
    assert made["data"]["createWebhookEndpoint"]["secretHint"] == "…0123" and not made["errors"]
    listed = await inbox_gql(admin, "{ webhookEndpoints { url isActive } }")
    assert listed["data"]["webhookEndpoints"] == [{"url": "https://example.org/hook", "isActive": True}]
    endpoint_id = made["data"]["createWebhookEndpoint"]["id"]
    off = await inbox_gql(admin, DEACTIVATE, {"id": endpoint_id})
    assert off["data"]["deactivateWebhookEndpoint"] == {"isActive": False}
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    gone = await inbox_gql(principal(other, "admin"), DEACTIVATE, {"id": endpoint_id})
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # another tenant's endpoint does not exist
    assert (await inbox_gql(principal(other, "admin"), "{ webhookEndpoints { id } }"))["data"]["webhookEndpoints"] == []


async def test_a_receiver_on_localhost_gets_signed_reminders_once(staffed_zjk, receiver):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    admin = principal(t, "admin")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    assert not (await inbox_gql(admin, CREATE, {"url": receiver.url, "secret": SECRET}))["errors"]
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
    body = await inbox_gql(admin, DELIVERIES, {"status": "DELIVERED"})
    [node] = [e["node"] for e in body["data"]["webhookDeliveries"]["edges"]]
    assert (node["status"], node["attempts"], node["lastError"]) == ("DELIVERED", 1, None)
    assert str(db_id(node["id"])) == headers["x-civicgrid-delivery"]  # the header names the delivery's database id
    # The escalation is another notification to two people: two more deliveries.
    with tenant_context(t.id):
        await ticks(T0 + 3 * HOUR + MIN)
    assert (await deliver(t, T0 + 3 * HOUR + 2 * MIN))["delivered"] == 2
    assert sorted(json.loads(b)["recipient"] for _, b in receiver.requests[1:]) == ["cw-1", "so-1"]
    assert all(verify(h, b, SECRET) for h, b in receiver.requests)


async def test_a_failing_receiver_is_retried_with_back_off_then_marked_failed(staffed_zjk, receiver):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    admin = principal(t, "admin")
    receiver.status = 500
    assert not (await inbox_gql(admin, CREATE, {"url": receiver.url, "secret": SECRET}))["errors"]
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
    body = await inbox_gql(admin, DELIVERIES, {"status": "FAILED"})
    [node] = [e["node"] for e in body["data"]["webhookDeliveries"]["edges"]]
    assert node["attempts"] == 6 and node["lastError"] == "HTTP 500: receiver is down"
    assert (await inbox_gql(admin, DELIVERIES, {"status": "PENDING"}))["data"]["webhookDeliveries"]["edges"] == []
    # The administrators hear of it in their inbox (and only there, not through the failing webhook).
    assert await inbox(t, "admin-1") == [("webhook.failed", node["payload"]["ticketId"])]


async def test_an_unreachable_or_deactivated_endpoint_is_recorded(staffed_zjk, receiver):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    admin = principal(t, "admin")
    dead = await inbox_gql(admin, CREATE, {"url": "http://127.0.0.1:9/nothing-listens", "secret": SECRET})
    live = await inbox_gql(admin, CREATE, {"url": receiver.url, "secret": SECRET})
    with tenant_context(t.id):
        await report(ids, "parking_disorder", T0)
        await ticks(T0 + 2 * HOUR + 45 * MIN)
    at = T0 + 2 * HOUR + 46 * MIN
    assert await deliver(t, at) == {"claimed": 2, "delivered": 1, "retrying": 1, "failed": 0}
    async with tenant_transaction(t.id):
        pending = await WebhookDelivery.get(status="pending")
    assert pending.endpoint_id == db_id(dead["data"]["createWebhookEndpoint"]["id"])
    assert pending.last_error.startswith("ConnectError") and pending.next_attempt_at == at + MIN  # type: ignore[union-attr]
    await inbox_gql(admin, DEACTIVATE, {"id": dead["data"]["createWebhookEndpoint"]["id"]})
    assert (await deliver(t, at + MIN))["failed"] == 1
    async with tenant_transaction(t.id):
        failed = await WebhookDelivery.get(id=pending.id)
    assert (failed.status, failed.last_error) == ("failed", "endpoint deactivated")
    assert live["data"]["createWebhookEndpoint"]["isActive"] and len(receiver.requests) == 1
    # Delivery never runs inside a transaction: the HTTP call would hold it open.
    with pytest.raises(RuntimeError):
        async with tenant_transaction(t.id):
            await webhooks.deliver_due(now=at)


async def test_private_addresses_are_refused_outside_development(staffed_zjk, monkeypatch):
    from tenants.errors import InvalidInput
    from tenants.inbox import webhooks
    from tenants.settings import get_settings

    monkeypatch.setenv("CIVICGRID_WEBHOOK_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    try:
        with tenant_context(staffed_zjk["tenant"].id):
            for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook"):
                with pytest.raises(InvalidInput) as err:
                    await webhooks.create_endpoint(access=SYSTEM, actor="admin", url=url, secret="s" * 20)
                assert err.value.problems[0].reason == "private"
        assert "private address" in str(await outbound.target("http://localhost:8080/x"))
    finally:
        monkeypatch.delenv("CIVICGRID_WEBHOOK_ALLOW_PRIVATE")
        get_settings.cache_clear()


PUBLIC = "93.184.216.34"  # a public address; a literal resolves without DNS


class FakeDNS:
    """Answers for made-up names (the sandbox has no DNS); numeric forms go to the real resolver, as in httpx."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.real = outbound.resolve

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.answers:
            queue = self.answers[host]
            return queue.pop(0) if len(queue) > 1 else queue[0]
        if host.endswith(".test"):
            raise OSError("Name or service not known")
        return await self.real(host, port)


@pytest.fixture
def no_private(monkeypatch):
    from tenants.settings import get_settings

    monkeypatch.setenv("CIVICGRID_WEBHOOK_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("CIVICGRID_WEBHOOK_ALLOW_PRIVATE")
    get_settings.cache_clear()


async def test_private_addresses_are_refused_in_every_notation(staffed_zjk, no_private, monkeypatch):
    dns = FakeDNS({"127.0.0.1.nip.io": [["127.0.0.1"]], "mixed.test": [[PUBLIC, "10.0.0.7"]], "ok.test": [[PUBLIC]]})
    monkeypatch.setattr(outbound, "resolve", dns)
    admin = principal(staffed_zjk["tenant"], "admin")
    private = [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/",  # ... in hexadecimal
        "http://127.1/",  # ... with the zero octets left out
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
        "http://[::ffff:7f00:1]/",
        "http://[2002:7f00:1::1]/",  # 6to4 around 127.0.0.1
        "http://169.254.169.254/latest/meta-data/",  # link-local (cloud metadata)
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://100.64.0.1/",  # shared address space (carrier NAT)
        "http://224.0.0.1/",  # multicast
        "http://localhost./",
        "http://api.localhost/",
        "http://127.0.0.1.nip.io/",  # a public name whose DNS answer is loopback
        "https://mixed.test/hook",  # one public answer and one private: refused
    ]
    for url in private:
        body = await inbox_gql(admin, CREATE, {"url": url, "secret": SECRET})
        problems = body["errors"][0]["extensions"]["problems"]
        assert [(p["field"], p["reason"]) for p in problems] == [("url", "private")], (url, body)
    refused = {
        "http://user:pw@ok.test/hook": "credentials",
        "http://[::1": "format",
        "http://0177.0.0.1/": "format",  # octal: httpx refuses it, so it is no URL to us either
        "http://exa\x00mple.org/": "format",
        "http://ok.test:99999/": "format",
        "http:///hook": "format",
        "gopher://ok.test/": "format",
        "https://" + "a" * 500 + ".test/": "format",
        "https://nowhere.test/hook": "unresolvable",
    }
    for url, reason in refused.items():
        body = await inbox_gql(admin, CREATE, {"url": url, "secret": SECRET})
        ext = body["errors"][0]["extensions"]
        assert ext["code"] == "INVALID_INPUT" and [p["reason"] for p in ext["problems"]] == [reason], (url, body)
    # Every problem at once.
    both = await inbox_gql(admin, CREATE, {"url": "http://u:p@ok.test/", "secret": "short"})
    assert [p["reason"] for p in both["errors"][0]["extensions"]["problems"]] == ["credentials", "length"]
    for url in (f"https://{PUBLIC}/hook", "https://ok.test/hook"):
        assert not (await inbox_gql(admin, CREATE, {"url": url, "secret": SECRET}))["errors"], url


async def test_delivery_connects_to_the_checked_address_with_the_original_host(staffed_zjk, receiver, monkeypatch):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    dns = FakeDNS({"hooks.civicgrid.test": [["127.0.0.1"]]})
    monkeypatch.setattr(outbound, "resolve", dns)
    url = f"http://hooks.civicgrid.test:{receiver.port}/hooks/civicgrid"
    assert not (await inbox_gql(principal(t, "admin"), CREATE, {"url": url, "secret": SECRET}))["errors"]
    with tenant_context(t.id):
        await report(ids, "parking_disorder", T0)
        await ticks(T0 + 2 * HOUR + 45 * MIN)
    # The system resolver knows no hooks.civicgrid.test: the POST reached the receiver only through the address
    # checked a moment before, with the name kept in the Host header.
    assert await deliver(t, T0 + 2 * HOUR + 46 * MIN) == {"claimed": 1, "delivered": 1, "retrying": 0, "failed": 0}
    [(headers, body)] = receiver.requests
    assert headers["host"] == f"hooks.civicgrid.test:{receiver.port}" and verify(headers, body, SECRET)
    assert dns.asked == ["hooks.civicgrid.test"]  # resolved once, for the check, and not again to connect


async def test_a_name_that_turns_private_after_creation_is_not_called(staffed_zjk, receiver, no_private, monkeypatch):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    dns = FakeDNS({"rebind.test": [[PUBLIC], ["127.0.0.1"]]})  # public when registered, loopback when sending
    monkeypatch.setattr(outbound, "resolve", dns)
    url = f"http://rebind.test:{receiver.port}/hooks/civicgrid"
    assert not (await inbox_gql(principal(t, "admin"), CREATE, {"url": url, "secret": SECRET}))["errors"]
    with tenant_context(t.id):
        await report(ids, "parking_disorder", T0)
        await ticks(T0 + 2 * HOUR + 45 * MIN)
    assert (await deliver(t, T0 + 2 * HOUR + 46 * MIN))["retrying"] == 1
    assert receiver.requests == []
    async with tenant_transaction(t.id):
        pending = await WebhookDelivery.get(status="pending")
    assert pending.last_error == "refused: rebind.test resolves to a private address (127.0.0.1)"


def test_the_pinned_request_keeps_host_and_tls_server_name():
    import httpx

    client = httpx.AsyncClient()
    https = outbound.Target(httpx.URL("https://hooks.example.org:8443/in?x=1"), PUBLIC)
    req = https.request(client, content=b"{}", headers={"X-A": "1"})
    assert str(req.url) == f"https://{PUBLIC}:8443/in?x=1"
    assert req.headers["host"] == "hooks.example.org:8443" and req.headers["x-a"] == "1"
    assert req.extensions["sni_hostname"] == "hooks.example.org"  # the certificate is checked for the name
    v6 = outbound.Target(httpx.URL("http://hooks.example.org/in"), "2001:4860:4860::8888")
    req = v6.request(client, content=b"{}", headers={})
    assert str(req.url) == "http://[2001:4860:4860::8888]/in" and req.headers["host"] == "hooks.example.org"
    assert "sni_hostname" not in req.extensions
