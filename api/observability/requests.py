"""What one request is, for its logs, metrics and errors: its id, and what the GraphQL layer learns of it."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

HEADER = "X-Request-ID"
# A caller's id is kept when it is short and plain (a UUID, a trace id, a load balancer's id); anything else is
# replaced, so a log line never carries a client's arbitrary text.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass
class RequestInfo:
    """One request as the access log and the metrics see it; the GraphQL extension fills in the operation."""

    request_id: str
    operation: str | None = None
    operation_type: str | None = None
    root: str | None = None  # the metrics' label: ``query.tickets`` (type and first root field), or ``invalid``
    tenant: str | None = None
    user: str | None = None
    outcome: str | None = None  # set by the GraphQL layer: ok / client_error / server_error


_OPERATION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def operation_name(name: str | None) -> str | None:
    """A GraphQL operation's name as logs, spans and metrics show it: a plain name of at most 64 characters, or
    ``other`` (a request's ``operationName`` is any text the client sends)."""
    if not name:
        return None
    return name if _OPERATION.fullmatch(name) else "other"


_current: ContextVar[RequestInfo | None] = ContextVar("civicgrid_request", default=None)


def request_id_from(header: bytes | str | None) -> str:
    """The caller's ``X-Request-ID`` when it is sane (at most 128 safe characters), else a new one."""
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            header = None
    if header and _SAFE_ID.fullmatch(header.strip()):
        return header.strip()
    return uuid.uuid4().hex


def current() -> RequestInfo | None:
    return _current.get()


def current_id() -> str | None:
    info = _current.get()
    return info.request_id if info else None


def begin(request_id: str) -> tuple[RequestInfo, object]:
    """Make ``request_id`` the current request (for the code, the tasks and the log lines of this request)."""
    info = RequestInfo(request_id)
    return info, _current.set(info)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
