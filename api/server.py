"""uvicorn as civicgrid runs it: slow clients are cut off, connections are bounded.

uvicorn times out idle keep-alive connections but not a client that trickles its request headers; the protocol
below closes a connection whose headers are not complete within ``header_timeout`` seconds (counted from the
connection, or from the first byte of the next request on a kept-alive one). Bodies are timed in api/app.py
(CIVICGRID_BODY_TIMEOUT_SECONDS, HTTP 408).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from tenants.settings import Settings

log = logging.getLogger("civicgrid.api")


def timed_h11(header_timeout: float) -> type[H11Protocol]:
    class TimedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

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


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings of `civicgrid api` and `civicgrid serve` (README, "Deployment")."""
    return {
        "http": timed_h11(settings.header_timeout_seconds),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_graceful_shutdown": 20,
    }
