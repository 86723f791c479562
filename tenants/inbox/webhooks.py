"""Webhooks: a tenant's endpoints, one delivery per notification and endpoint, HMAC-signed POSTs with back-off.

A delivery is claimed (leased) in one short transaction, sent with no transaction open, and its outcome recorded
in another; a worker that dies in between leaves the lease to expire and the delivery is sent again, so receivers
dedupe on ``X-Civicgrid-Delivery``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from tenants.errors import InvalidInput, NotFound, Problem
from tenants.idempotency import idempotent
from tenants.inbox import outbound
from tenants.inbox.holders import tenant_admins
from tenants.inbox.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint
from tenants.paging import Page, Window, newest_first
from tenants.permissions import Caller, require
from tenants.scope import current_tenant_id, in_scoped_transaction, scoped_transaction

log = logging.getLogger(__name__)

MIN_SECRET = 16
MAX_SECRET = 200
MAX_ENDPOINTS = 10
BACKOFF_MINUTES = (1, 2, 4, 8, 16)  # after failed attempt 1..5; attempt 6 is the last
MAX_ATTEMPTS = len(BACKOFF_MINUTES) + 1
LEASE = timedelta(minutes=5)  # a claimed delivery is not claimed again before this, unless its outcome is recorded
TIMEOUT_SECONDS = 5.0
BATCH = 100
PARALLEL = 10


def _secret_problems(secret: str) -> list[Problem]:
    if MIN_SECRET <= len(secret) <= MAX_SECRET:
        return []
    return [
        Problem(
            "secret",
            "length",
            f"签名密钥须为 {MIN_SECRET} 到 {MAX_SECRET} 个字符",
            f"secret must be {MIN_SECRET} to {MAX_SECRET} characters",
        )
    ]


@idempotent("createWebhookEndpoint", WebhookEndpoint)
async def create_endpoint(*, access: Caller, actor: str, url: str, secret: str) -> WebhookEndpoint:
    """Register where the tenant's notifications are POSTed (``inbox.webhooks``)."""
    require(access, "inbox.webhooks")
    problems = await outbound.creation_problems(url) + _secret_problems(secret)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if await WebhookEndpoint.filter(is_active=True).count() >= MAX_ENDPOINTS:
            raise InvalidInput.of(
                [Problem("url", "too_many", f"最多 {MAX_ENDPOINTS} 个推送地址", f"at most {MAX_ENDPOINTS} endpoints")]
            )
        return await WebhookEndpoint.create(url=url.strip(), secret=secret)


async def deactivate_endpoint(*, access: Caller, endpoint_id: int) -> WebhookEndpoint:
    """Stop sending to an endpoint; its pending deliveries fail with a note when their turn comes."""
    require(access, "inbox.webhooks")
    async with scoped_transaction():
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).select_for_update().first()
        if endpoint is None:
            raise NotFound(f"推送地址 {endpoint_id} 不存在", f"endpoint {endpoint_id} does not exist", field="id")
        endpoint.is_active = False
        await endpoint.save()
        return endpoint


async def list_endpoints(*, access: Caller) -> list[WebhookEndpoint]:
    require(access, "inbox.webhooks")
    return await WebhookEndpoint.all().order_by("id")


async def list_deliveries(
    *, access: Caller, status: DeliveryStatus | None, window: Window
) -> Page[WebhookDelivery]:
    """A window of the deliveries, newest first; not counted (one row per event and endpoint, kept)."""
    require(access, "inbox.webhooks")
    qs = WebhookDelivery.all()
    if status is not None:
        qs = qs.filter(status=status)
    return await newest_first(qs, window, time_field="created_at", countable=False)


def payload_of(n: Notification) -> dict[str, Any]:
    return {
        "event": n.kind,
        "ticketId": n.ticket_id,
        "title": n.title,
        "body": n.body,
        "recipient": n.recipient,
        "createdAt": n.created_at.isoformat(),
    }


async def enqueue(notifications: Sequence[Notification], *, at: datetime) -> int:
    """One pending delivery per notification and active endpoint (in the caller's transaction)."""
    endpoint_ids = list(await WebhookEndpoint.filter(is_active=True).values_list("id", flat=True))
    if not endpoint_ids or not notifications:
        return 0
    rows = [
        WebhookDelivery(
            endpoint_id=e, event=n.kind, payload=payload_of(n), next_attempt_at=at, created_at=at, attempts=0
        )
        for n in notifications
        for e in endpoint_ids
    ]
    await WebhookDelivery.bulk_create(rows)
    return len(rows)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``{timestamp}.{body}`` with the endpoint's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    event: str
    payload: dict[str, Any]
    url: str | None  # None: the endpoint is gone or inactive
    secret: str


_CLAIM = """
UPDATE webhook_delivery d SET next_attempt_at = $3
FROM (SELECT id FROM webhook_delivery
      WHERE tenant_id = $1 AND status = 'pending' AND next_attempt_at <= $2
      ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) due
WHERE d.tenant_id = $1 AND d.id = due.id
RETURNING d.id, d.endpoint_id, d.attempts, d.event, d.payload
"""


async def _claim(now: datetime, limit: int) -> list[_Claimed]:
    async with scoped_transaction() as conn:
        rows = await conn.execute_query_dict(_CLAIM, [current_tenant_id(), now, now + LEASE, limit])
        ids = {r["endpoint_id"] for r in rows}
        endpoints = {e.id: e for e in await WebhookEndpoint.filter(id__in=ids, is_active=True)} if ids else {}
    claimed = []
    for r in rows:
        e = endpoints.get(r["endpoint_id"])
        payload = r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"])
        claimed.append(
            _Claimed(r["id"], r["attempts"], r["event"], payload, e.url if e else None, e.secret if e else "")
        )
    return claimed


async def _tell_admins(failed: list[tuple[_Claimed, str | None]], now: datetime) -> None:
    """Deliveries given up for good go to the tenant administrators' inboxes (only there: not to the webhook
    that is failing)."""
    admins = await tenant_admins(now)
    rows = [
        Notification(
            recipient=admin,
            kind="webhook.failed",
            title="推送失败",
            ticket_id=d.payload.get("ticketId"),
            body=f"推送 {d.id}（{d.event}）多次重试后仍失败：{(error or '')[:200]}",
            created_at=now,
        )
        for d, error in failed
        for admin in admins
    ]
    if rows:
        await Notification.bulk_create(rows)


async def _post(client: httpx.AsyncClient, d: _Claimed, now: datetime) -> str | None:
    """Send one delivery; None when the receiver answered 2xx, else what went wrong."""
    if d.url is None:
        return "endpoint deactivated"
    to = await outbound.target(d.url)
    if isinstance(to, str):
        return to
    body = encode(d.payload)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "civicgrid-webhooks/1",
        "X-Civicgrid-Event": d.event,
        "X-Civicgrid-Delivery": str(d.id),
        "X-Civicgrid-Timestamp": timestamp,
        "X-Civicgrid-Signature": sign(d.secret, timestamp, body),
    }
    try:
        resp = await client.send(to.request(client, content=body, headers=headers))
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:2000]
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}: {resp.text[:500]}"


async def _record(d: _Claimed, error: str | None, now: datetime) -> str:
    attempts = d.attempts + 1
    # Only the holder of this attempt records it: a lease that expired and was claimed again moved ``attempts``.
    this = WebhookDelivery.filter(id=d.id, status=DeliveryStatus.PENDING, attempts=d.attempts)
    if error is None:
        await this.update(status=DeliveryStatus.DELIVERED, attempts=attempts, delivered_at=now, last_error=None)
        return "delivered"
    gave_up = attempts >= MAX_ATTEMPTS or d.url is None
    await this.update(
        status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
        attempts=attempts,
        last_error=error,
        next_attempt_at=now if gave_up else now + timedelta(minutes=BACKOFF_MINUTES[attempts - 1]),
    )
    return "failed" if gave_up else "retrying"


async def deliver_due(*, now: datetime, client: httpx.AsyncClient | None = None, limit: int = BATCH) -> dict[str, int]:
    """POST the tenant's pending deliveries that are due; never inside a transaction (HTTP is slow)."""
    if in_scoped_transaction():
        raise RuntimeError("deliver_due must not run inside a transaction")
    claimed = await _claim(now, limit)
    counts = {"claimed": len(claimed), "delivered": 0, "retrying": 0, "failed": 0}
    if not claimed:
        return counts
    own = client is None
    http = client or httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    gate = asyncio.Semaphore(PARALLEL)

    async def one(d: _Claimed) -> str | None:
        async with gate:
            return await _post(http, d, now)

    try:
        errors = await asyncio.gather(*(one(d) for d in claimed))
    finally:
        if own:
            await http.aclose()
    async with scoped_transaction():
        failed = []
        for d, error in zip(claimed, errors, strict=True):
            outcome = await _record(d, error, now)
            counts[outcome] += 1
            if outcome == "failed":
                failed.append((d, error))
        if failed:
            await _tell_admins(failed, now)
    if counts["failed"] or counts["retrying"]:
        log.info("webhooks tenant %s: %s", current_tenant_id(), counts)
    return counts
