"""Sending to people's inboxes (each message also queued for the tenant's webhooks), and reading one's inbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tenants.inbox.models import Notification
from tenants.inbox.webhooks import enqueue as enqueue_webhooks
from tenants.paging import Page, Window, newest_first


@dataclass(frozen=True)
class Message:
    """One message (Chinese text) to some people, by user id."""

    to: Sequence[str]
    kind: str
    title: str
    text: str
    ticket_id: int | None = None


async def send_all(messages: Sequence[Message], *, at: datetime) -> list[Notification]:
    """Put each message in its recipients' inboxes (empty and repeated recipients dropped) and queue the webhook
    deliveries, in the caller's transaction."""
    rows = [
        Notification(recipient=r, kind=m.kind, title=m.title, body=m.text, ticket_id=m.ticket_id, created_at=at)
        for m in messages
        for r in dict.fromkeys(r for r in m.to if r)
    ]
    if not rows:
        return []
    await Notification.bulk_create(rows)
    await enqueue_webhooks(rows, at=at)
    return rows


async def send(
    *, to: Sequence[str], kind: str, title: str, text: str, ticket_id: int | None = None, at: datetime
) -> list[Notification]:
    """Put one message in each recipient's inbox: ``send_all`` of one message."""
    return await send_all([Message(to, kind, title, text, ticket_id)], at=at)


async def told(*, kind: str, title: str) -> set[str]:
    """Who already has a message of this kind and title."""
    return set(await Notification.filter(kind=kind, title=title).values_list("recipient", flat=True))  # type: ignore[arg-type]


async def inbox(
    recipient: str, *, unread_only: bool, window: Window
) -> Page[Notification]:
    """A window of one person's messages, newest first (keyset on created_at, id); not counted (an inbox only
    grows; ``unread_count`` answers the question people ask)."""
    qs = Notification.filter(recipient=recipient)
    if unread_only:
        qs = qs.filter(read_at=None)
    return await newest_first(qs, window, time_field="created_at", countable=False)


async def unread_count(recipient: str) -> int:
    return await Notification.filter(recipient=recipient, read_at=None).count()


async def mark_read(recipient: str, *, ids: list[int] | None, at: datetime) -> int:
    """Mark the recipient's messages read (the given ones, or all when ``ids`` is None); returns how many."""
    qs = Notification.filter(recipient=recipient, read_at=None)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return await qs.update(read_at=at)
