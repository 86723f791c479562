"""The inbox and the tenant's webhooks, in GraphQL (tenants/inbox/)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.ids import to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from tenants import clock
from tenants.errors import Forbidden, InvalidInput, Problem
from tenants.inbox import access as inbox_access
from tenants.inbox import service as inbox
from tenants.inbox import webhooks
from tenants.inbox.models import DeliveryStatus, WebhookEndpoint

WebhookDeliveryStatus = strawberry.enum(
    Enum("WebhookDeliveryStatus", {s.name: s.value for s in DeliveryStatus}), name="WebhookDeliveryStatus"
)
MAX_MARK_IDS = 500


@strawberry.type(name="Notification", description="A message in the caller's inbox.")
class NotificationType(Node):
    readable = staticmethod(inbox_access.readable_notifications)
    kind: str
    title: str
    body: str
    ticket_id: strawberry.ID | None
    created_at: datetime
    read_at: datetime | None

    @strawberry.field
    def is_read(self) -> bool:
        return self.read_at is not None


@strawberry.type(name="WebhookEndpoint", description="Where the tenant's notifications are POSTed (HMAC-signed).")
class WebhookEndpointType(Node):
    readable = staticmethod(inbox_access.readable_endpoints)
    url: str
    is_active: bool
    created_at: datetime
    secret_hint: str = strawberry.field(description="The secret's last 4 characters; the secret is never shown.")

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookEndpointType:
        return from_row(cls, e, secret_hint="…" + e.secret[-4:])


@strawberry.type(name="WebhookDelivery", description="One notification sent (or being sent) to one endpoint.")
class WebhookDeliveryType(Node):
    readable = staticmethod(inbox_access.readable_deliveries)
    endpoint_id: strawberry.ID
    event: str
    payload: JSON
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


def _me(info: Info) -> str:
    if info.context.tenant_id is None:
        raise Forbidden("平台账号没有消息", "platform accounts have no inbox")
    return info.context.actor


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="The caller's inbox, newest first.")
    async def notifications(
        self, info: Info, unread_only: bool = False, first: First = None, after: After = None,
        last: Last = None, before: Before = None
    ) -> Connection[NotificationType]:
        me = _me(info)
        return await connection(
            info, lambda w: inbox.inbox(me, unread_only=unread_only, window=w), NotificationType.of,
            first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="How many of the caller's messages are unread.")
    async def unread_notification_count(self, info: Info) -> int:
        return await inbox.unread_count(_me(info))

    @strawberry.field(description="The tenant's webhook endpoints (tenant administrators).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpointType]:
        return [WebhookEndpointType.of(e) for e in await webhooks.list_endpoints(access=await info.context.access())]

    @strawberry.field(description="Webhook deliveries, newest first, optionally by status (tenant administrators).")
    async def webhook_deliveries(
        self,
        info: Info,
        status: WebhookDeliveryStatus | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[WebhookDeliveryType]:
        access = await info.context.access()
        wanted = DeliveryStatus(status.value) if status is not None else None
        return await connection(
            info, lambda w: webhooks.list_deliveries(access=access, status=wanted, window=w), WebhookDeliveryType.of,
            first=first, after=after, last=last, before=before,
        )


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Mark the caller's messages read: the given ones, or all; returns how many.")
    async def mark_notifications_read(
        self,
        info: Info,
        ids: list[strawberry.ID] | None = None,
        all_: Annotated[bool, strawberry.argument(name="all")] = False,
    ) -> int:
        me = _me(info)
        if all_ == (ids is not None):
            raise InvalidInput.of(
                [Problem("ids", "one_of", "请指定消息编号或全部", "give either ids or all: true")]
            )
        if ids is not None and len(ids) > MAX_MARK_IDS:
            raise InvalidInput.of(
                [Problem("ids", "too_many", f"一次最多 {MAX_MARK_IDS} 条", f"at most {MAX_MARK_IDS} ids at once")]
            )
        parsed = None if ids is None else [to_id(i, "ids", "Notification") for i in ids]
        return await inbox.mark_read(me, ids=parsed, at=clock.now())

    @strawberry.mutation(description="Register a webhook endpoint (tenant administrators).")
    async def create_webhook_endpoint(
        self,
        info: Info,
        url: str,
        secret: str,
        idempotency_key: Annotated[str | None, strawberry.argument(
            description="A key of the client's (e.g. a UUID): a retry with it returns the same endpoint."
        )] = None,
    ) -> WebhookEndpointType:
        return WebhookEndpointType.of(
            await webhooks.create_endpoint(
                **await info.context.acting(), url=url, secret=secret,
                idempotency_key=idempotency_key,
            )
        )

    @strawberry.mutation(description="Stop sending to a webhook endpoint (tenant administrators).")
    async def deactivate_webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpointType:
        return WebhookEndpointType.of(
            await webhooks.deactivate_endpoint(
                access=await info.context.access(), endpoint_id=to_id(id, "id", "WebhookEndpoint")
            ),
        )
