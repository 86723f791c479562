"""The inbox's tables: messages in people's inboxes, the tenant's webhook endpoints and their deliveries.

The tables keep the names they had under tickets (``notification``, ``webhook_endpoint``, ``webhook_delivery``)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class Notification(TenantModel):
    """A message in a person's inbox (Chinese text)."""

    recipient = fields.CharField(max_length=128)  # user id
    kind = fields.CharField(max_length=32)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    ticket_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("tenant_id", "recipient", "created_at", "id"),)


class WebhookEndpoint(TenantModel):
    """Where a tenant wants its notifications POSTed, HMAC-signed with ``secret``."""

    url = fields.CharField(max_length=500)
    secret = fields.CharField(max_length=200)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_endpoint"
        indexes = (("tenant_id", "is_active"),)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


class WebhookDelivery(TenantModel):
    endpoint_id = fields.BigIntField()
    event = fields.CharField(max_length=64)
    payload: dict = fields.JSONField()  # type: ignore[assignment]
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_delivery"
        indexes = (("tenant_id", "status", "next_attempt_at"),)
