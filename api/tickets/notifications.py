"""The inbox, the tenant's webhooks, and the efficiency office's list, in GraphQL."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.ids import to_id
from api.pagination import Connection, paginate
from api.tickets.types import TicketUnitKind
from tenants import clock
from tenants.errors import Forbidden, InvalidInput, Problem
from tenants.inbox import service as inbox
from tenants.inbox import webhooks
from tenants.inbox.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint
from tenants.permissions import require
from tenants.tickets import scheduled as reminders

WebhookDeliveryStatus = strawberry.enum(
    Enum("WebhookDeliveryStatus", {s.name: s.value for s in DeliveryStatus}), name="WebhookDeliveryStatus"
)
MAX_MARK_IDS = 500


@strawberry.type(name="Notification", description="A message in the caller's inbox.")
class NotificationType:
    id: strawberry.ID
    kind: str
    title: str
    body: str
    ticket_id: strawberry.ID | None
    created_at: datetime
    read_at: datetime | None

    @strawberry.field
    def is_read(self) -> bool:
        return self.read_at is not None

    @classmethod
    def of(cls, n: Notification) -> NotificationType:
        return cls(
            id=strawberry.ID(str(n.id)),
            kind=n.kind,
            title=n.title,
            body=n.body,
            ticket_id=strawberry.ID(str(n.ticket_id)) if n.ticket_id else None,
            created_at=n.created_at,
            read_at=n.read_at,
        )


@strawberry.type(name="WebhookEndpoint", description="Where the tenant's notifications are POSTed (HMAC-signed).")
class WebhookEndpointType:
    id: strawberry.ID
    url: str
    is_active: bool
    created_at: datetime
    secret_hint: str = strawberry.field(description="The secret's last 4 characters; the secret is never shown.")

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookEndpointType:
        return cls(
            id=strawberry.ID(str(e.id)),
            url=e.url,
            is_active=e.is_active,
            created_at=e.created_at,
            secret_hint="…" + e.secret[-4:],
        )


@strawberry.type(name="WebhookDelivery", description="One notification sent (or being sent) to one endpoint.")
class WebhookDeliveryType:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event: str
    payload: JSON
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, d: WebhookDelivery) -> WebhookDeliveryType:
        return cls(
            id=strawberry.ID(str(d.id)),
            endpoint_id=strawberry.ID(str(d.endpoint_id)),
            event=d.event,
            payload=d.payload,
            status=WebhookDeliveryStatus(d.status.value),
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )


@strawberry.type(name="EfficiencyCase", description="A unit handed to the efficiency office 作风效能办; its record.")
class EfficiencyCaseType:
    unit_kind: TicketUnitKind  # type: ignore[valid-type]
    unit_id: strawberry.ID
    unit_name: str
    period: str
    escalations_at_hand_over: int
    escalations_in_period: int
    open_tickets: int
    overdue_tickets: int
    handed_at: datetime

    @classmethod
    def of(cls, r: reminders.OfficeRecord) -> EfficiencyCaseType:
        c = r.case
        return cls(
            unit_kind=TicketUnitKind(c.unit_kind.value),
            unit_id=strawberry.ID(str(c.unit_id)),
            unit_name=r.unit_name,
            period=c.period,
            escalations_at_hand_over=c.escalations,
            escalations_in_period=r.escalations_in_period,
            open_tickets=r.open_tickets,
            overdue_tickets=r.overdue_tickets,
            handed_at=c.handed_at,
        )


def _me(info: Info) -> str:
    if info.context.tenant_id is None:
        raise Forbidden("平台账号没有消息", "platform accounts have no inbox")
    return info.context.actor


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="The caller's inbox, newest first.")
    async def notifications(
        self, info: Info, unread_only: bool = False, first: int | None = None, after: str | None = None
    ) -> Connection[NotificationType]:
        me = _me(info)
        return await paginate(
            first=first,
            after=after,
            key=lambda n: (n.created_at, n.id),
            types=(datetime, int),
            fetch=lambda k, n: inbox.inbox(me, unread_only=unread_only, after=k, limit=n),
            to_node=NotificationType.of,
        )

    @strawberry.field(description="How many of the caller's messages are unread.")
    async def unread_notification_count(self, info: Info) -> int:
        return await inbox.unread_count(_me(info))

    @strawberry.field(description="The tenant's webhook endpoints (tenant administrators).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpointType]:
        require(info.context.principal, "inbox.webhooks")  # into tenants/inbox/ with the move (part C)
        return [WebhookEndpointType.of(e) for e in await webhooks.list_endpoints()]

    @strawberry.field(description="Webhook deliveries, newest first, optionally by status (tenant administrators).")
    async def webhook_deliveries(
        self,
        info: Info,
        status: WebhookDeliveryStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDeliveryType]:
        require(info.context.principal, "inbox.webhooks")  # into tenants/inbox/ with the move (part C)
        wanted = DeliveryStatus(status.value) if status is not None else None
        return await paginate(
            first=first,
            after=after,
            key=lambda d: (d.created_at, d.id),
            types=(datetime, int),
            fetch=lambda k, n: webhooks.list_deliveries(status=wanted, after=k, limit=n),
            to_node=WebhookDeliveryType.of,
        )

    @strawberry.field(
        description="Units handed to the efficiency office, in a period (YYYY-MM) or all, with their record "
        "(tenant administrators and the office's staff)."
    )
    async def efficiency_office_list(self, info: Info, period: str | None = None) -> list[EfficiencyCaseType]:
        if not await reminders.reads_office_list(await info.context.access()):
            raise Forbidden("只有管理员和作风效能办可以查看", "only administrators and the efficiency office read this")
        records = await reminders.office_list(period=period, now=clock.now())
        return [EfficiencyCaseType.of(r) for r in records]


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
        parsed = None if ids is None else [to_id(i, "ids") for i in ids]
        return await inbox.mark_read(me, ids=parsed, at=clock.now())

    @strawberry.mutation(description="Register a webhook endpoint (tenant administrators).")
    async def create_webhook_endpoint(self, info: Info, url: str, secret: str) -> WebhookEndpointType:
        require(info.context.principal, "inbox.webhooks")  # into tenants/inbox/ with the move (part C)
        return WebhookEndpointType.of(await webhooks.create_endpoint(url=url, secret=secret))

    @strawberry.mutation(description="Stop sending to a webhook endpoint (tenant administrators).")
    async def deactivate_webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpointType:
        require(info.context.principal, "inbox.webhooks")  # into tenants/inbox/ with the move (part C)
        return WebhookEndpointType.of(await webhooks.deactivate_endpoint(endpoint_id=to_id(id, "id")))
