"""Which inbox rows a caller reads: their own messages; the tenant's webhooks for whoever manages them."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from tenants.inbox.models import Notification, WebhookDelivery, WebhookEndpoint
from tenants.records import granted
from tenants.territory.access import Access


def readable_notifications(caller: Access) -> QuerySet[Notification]:
    """The caller's own messages."""
    return Notification.filter(recipient=caller.user_id or "\x00")


def readable_endpoints(caller: Access) -> QuerySet[WebhookEndpoint]:
    return granted(caller, "inbox.webhooks", WebhookEndpoint.all())


def readable_deliveries(caller: Access) -> QuerySet[WebhookDelivery]:
    return granted(caller, "inbox.webhooks", WebhookDelivery.all())
