"""Webhooks: a tenant's endpoints, one delivery per notification and endpoint, HMAC-signed POSTs with back-off.

A delivery is claimed (leased) in one short transaction, sent with no transaction open, and its outcome recorded
in another; a worker that dies in between leaves the lease to expire and the delivery is sent again, so receivers
dedupe on ``X-Civicgrid-Delivery``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx

from tenants.errors import InvalidInput, NotFound, Problem
from tenants.paging import newest_first
from tenants.scope import current_tenant_id, in_scoped_transaction, scoped_transaction
from tenants.settings import get_settings
from tenants.tickets.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

MIN_SECRET = 16
MAX_SECRET = 200
MAX_URL = 500
MAX_ENDPOINTS = 10
BACKOFF_MINUTES = (1, 2, 4, 8, 16)  # after failed attempt 1..5; attempt 6 is the last
MAX_ATTEMPTS = len(BACKOFF_MINUTES) + 1
LEASE = timedelta(minutes=5)  # a claimed delivery is not claimed again before this, unless its outcome is recorded
TIMEOUT_SECONDS = 5.0
BATCH = 100
PARALLEL = 10


def _literal_private(host: str) -> bool:
    try:
        return _private(host)
    except ValueError:  # a name, checked when sending
        return False


def _problems(url: str, secret: str) -> list[Problem]:
    problems = []
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > MAX_URL:
        problems.append(
            Problem(
                "url",
                "format",
                f"地址须为 http(s) 链接，且不超过 {MAX_URL} 字",
                f"url must be an http(s) URL of at most {MAX_URL} characters",
            )
        )
    elif not get_settings().webhook_allow_private and (
        parsed.hostname == "localhost" or _literal_private(parsed.hostname)
    ):
        problems.append(
            Problem("url", "private", "推送地址不能指向内网", "url must not point to a private network address")
        )
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        problems.append(
            Problem(
                "secret",
                "length",
                f"签名密钥须为 {MIN_SECRET} 到 {MAX_SECRET} 个字符",
                f"secret must be {MIN_SECRET} to {MAX_SECRET} characters",
            )
        )
    return problems


async def create_endpoint(*, url: str, secret: str) -> WebhookEndpoint:
    """Register where the tenant's notifications are POSTed (tenant administrators; the caller checks the role)."""
    problems = _problems(url, secret)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if await WebhookEndpoint.filter(is_active=True).count() >= MAX_ENDPOINTS:
            raise InvalidInput.of(
                [Problem("url", "too_many", f"最多 {MAX_ENDPOINTS} 个推送地址", f"at most {MAX_ENDPOINTS} endpoints")]
            )
        return await WebhookEndpoint.create(url=url.strip(), secret=secret)


async def deactivate_endpoint(*, endpoint_id: int) -> WebhookEndpoint:
    """Stop sending to an endpoint; its pending deliveries fail with a note when their turn comes."""
    async with scoped_transaction():
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).select_for_update().first()
        if endpoint is None:
            raise NotFound(f"推送地址 {endpoint_id} 不存在", f"endpoint {endpoint_id} does not exist", field="id")
        endpoint.is_active = False
        await endpoint.save()
        return endpoint


async def list_endpoints() -> list[WebhookEndpoint]:
    return await WebhookEndpoint.all().order_by("id")


async def list_deliveries(
    *, status: DeliveryStatus | None, after: tuple[datetime, int] | None, limit: int
) -> list[WebhookDelivery]:
    qs = WebhookDelivery.all()
    if status is not None:
        qs = qs.filter(status=status)
    return await newest_first(qs, time_field="created_at", after=after, limit=limit)


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


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast


async def _refused_host(url: str) -> str | None:
    """Webhooks go to the outside world only (unless CIVICGRID_WEBHOOK_ALLOW_PRIVATE): never let a tenant make
    the worker call internal services. Checked on the addresses the name resolves to, at sending time."""
    if get_settings().webhook_allow_private:
        return None
    parsed = urlparse(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parsed.hostname, parsed.port or 443)
    except OSError as exc:
        return f"cannot resolve {parsed.hostname}: {exc}"
    bad = sorted({str(info[4][0]) for info in infos if _private(str(info[4][0]))})
    return f"refused: {parsed.hostname} resolves to a private address ({', '.join(bad)})" if bad else None


async def _tell_admins(failed: list[tuple[_Claimed, str | None]], now: datetime) -> None:
    """Deliveries given up for good go to the tenant administrators' inboxes (only there: not to the webhook
    that is failing)."""
    from tenants.territory.people import PostKind
    from tenants.tickets.models import Notification
    from tenants.tickets.notify import _post_holders

    admins = await _post_holders(PostKind.TENANT_ADMIN, None, None, now)
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
    if refused := await _refused_host(d.url):
        return refused
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
        resp = await client.post(d.url, content=body, headers=headers)
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
