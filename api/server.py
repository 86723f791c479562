"""uvicorn as civicgrid runs it: slow clients are cut off, connections are bounded.

uvicorn times out idle keep-alive connections but not a client that trickles its request headers; the protocol
below closes a connection whose headers are not complete within ``header_timeout`` seconds (counted from the
connection, or from the first byte of the next request on a kept-alive one). Bodies are timed in api/app.py
(CIVICGRID_BODY_TIMEOUT_SECONDS, HTTP 408). uvicorn's own answers (400 for a request that is not HTTP, 503 beyond
the connection limit) are JSON errors like every other (api/http_errors.py), not plain text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_client_addr

from api.http_errors import bad_http, busy
from tenants.settings import Settings

log = logging.getLogger("civicgrid.api")


JSON = (b"content-type", b"application/json")


def timed_h11(header_timeout: float) -> type[H11Protocol]:
    class TimedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # uvicorn's limit answers in plain text: take the check over (the same rule) to answer in JSON.
            limit, self.limit_concurrency = self.limit_concurrency, None
            if limit is not None:
                self.app = self._limited(self.app, limit)

        def _limited(self, app: Any, limit: int) -> Any:
            async def limited(scope: Any, receive: Any, send: Any) -> None:
                # uvicorn counts before this request's task exists; here it is already in self.tasks.
                if scope["type"] == "http" and (len(self.connections) >= limit or len(self.tasks) > limit):
                    log.warning("Exceeded concurrency limit (%s), answered 503: %s", limit,
                                get_client_addr(scope))
                    body = busy()
                    headers = [JSON, (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
                    await send({"type": "http.response.start", "status": 503, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
                await app(scope, receive, send)

            return limited

        def send_400_response(self, msg: str) -> None:
            body = bad_http()
            headers = [JSON, (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
            self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._time_headers()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._time_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            super().connection_lost(exc)

        def _time_headers(self) -> None:
            waiting = self.conn.their_state == h11.IDLE and self.conn.our_state == h11.IDLE
            if not waiting:
                self._stop_header_timer()
            elif self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _stop_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state == h11.IDLE and not self.transport.is_closing():
                log.info("closing a connection whose request headers took over %s s", header_timeout)
                self.transport.close()

    return TimedH11Protocol


def event_loop() -> str:
    """uvloop where it is installed (a dependency, except on Windows), asyncio's own loop otherwise."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def __getattr__(name: str) -> Any:
    """``api.server:SettingsTimedH11``: the protocol class for this process's settings, by import string (worker
    processes get uvicorn's settings pickled, and a class made in a function does not pickle)."""
    if name == "SettingsTimedH11":
        from tenants.settings import get_settings

        return timed_h11(get_settings().header_timeout_seconds)
    raise AttributeError(name)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings of `civicgrid api` and `civicgrid serve` (README, "Deployment"). HTTP stays on h11:
    the header timeout and the JSON refusals are written for its protocol class (httptools would need both
    again), and parsing is a small part of a request here."""
    return {
        "loop": event_loop(),
        # Several worker processes: by import string (see ``__getattr__``); one: the class itself.
        "http": (
            timed_h11(settings.header_timeout_seconds) if settings.api_workers == 1 else "api.server:SettingsTimedH11"
        ),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # SIGTERM: stop accepting, let in-flight requests finish this long, then cancel them and run the lifespan's end.
        "timeout_graceful_shutdown": settings.shutdown_seconds,
    }
