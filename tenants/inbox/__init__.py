"""The inbox 消息: messages to people (by user id), the post holders they go to, and the tenant's webhooks that
receive a copy of each. Domains word their messages; ``send`` (one message) and ``send_all`` (a batch) deliver."""

from tenants.inbox.service import Message, send, send_all, told

__all__ = ["Message", "send", "send_all", "told"]
