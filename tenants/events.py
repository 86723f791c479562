"""Domain events inside a tenant's transaction: a domain says what happened, the domains above it act on it.

A lower layer cannot import the layers above it (tickets cannot import points), so it ``emit``s a named event with
plain values and the subscribers listed in ``SUBSCRIBERS`` handle it in the same transaction: a handler that fails
fails the whole change, and what it wrote commits or rolls back with it. Subscriber modules are imported on the
first emit, so every process (API, worker, CLI) that emits an event has its subscribers, whatever it imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[..., Awaitable[None]]

# Modules that subscribe (each calls ``subscribe`` at import).
SUBSCRIBERS = ("tenants.points.hooks",)

# The events and what they carry (keyword arguments of every handler).
EVENTS = {
    # a ticket was accepted as a valid request and dispatched: ticket_id, reporter_user_id, channel, at
    "ticket_accepted",
    # a ticket was reported: ticket_id, reporter_user_id, channel, actor, at
    "ticket_reported",
    # a ticket was rejected as not a valid request: ticket_id, reporter_user_id, at
    "ticket_rejected",
    # a resident rated a ticket's result: ticket_id, rater_user_id, at
    "ticket_rated",
    # someone took part in a community activity (双报到 and meetings): activity_kind, activity_id, user_id, at
    "activity_attended",
    # an attendance was withdrawn: activity_kind, activity_id, user_id, at
    "activity_withdrawn",
    # many attendances of one activity were withdrawn at once (it was called off): activity_kind, activity_id,
    # user_ids, at
    "activity_withdrawn_all",
}

_handlers: dict[str, list[Handler]] = {}
_loaded = False


def subscribe(event: str, handler: Handler) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if handler not in _handlers.setdefault(event, []):
        _handlers[event].append(handler)


async def emit(event: str, **payload: Any) -> None:
    """Run the event's handlers now, in the caller's transaction."""
    global _loaded
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if not _loaded:
        for module in SUBSCRIBERS:
            importlib.import_module(module)
        _loaded = True
    for handler in _handlers.get(event, ()):
        await handler(**payload)
