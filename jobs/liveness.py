"""This worker's own heartbeat: a file its poll loop touches, read by ``civicgrid worker --alive`` (the liveness probe).

arq's health-check key is one per queue, so any live replica would keep a frozen one's probe green; and a probe that
asks Redis fails every replica at once while Redis is down, although the worker rides that out by itself (it backs
off and polls again). A file in this container's /tmp is neither: it goes stale exactly when this worker's event
loop stops turning. Kept free of arq, tortoise and the domain so that the probe starts fast.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path


def worker_id() -> str:
    """This worker's name: CIVICGRID_WORKER_ID, else the host name (a Kubernetes pod's own name)."""
    return os.environ.get("CIVICGRID_WORKER_ID") or socket.gethostname()


def heartbeat_file(name: str | None = None) -> Path:
    """Where the worker ``name`` (this one by default) beats: the temporary directory, one file per worker."""
    return Path(tempfile.gettempdir()) / f"civicgrid-worker-{name or worker_id()}.alive"


class Heartbeat:
    """Writes the monotonic clock (one per machine, unlike a file's mtime against a test's shifted wall clock) to
    ``path`` at most once per ``every`` seconds; removed first, so a dead predecessor's beat never counts."""

    def __init__(self, path: Path, every: float = 1.0) -> None:
        self.path = path
        self.every = every
        self._last = float("-inf")
        path.unlink(missing_ok=True)

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        try:
            fresh = self.path.with_suffix(".new")
            fresh.write_text(repr(now))
            os.replace(fresh, self.path)  # the probe reads a whole number, never half of one
        except OSError:  # a full or read-only /tmp fails the probe, which is what should happen; never the loop
            pass


def alive(path: Path, within: float) -> bool:
    """Whether the worker beating at ``path`` did so within the last ``within`` seconds."""
    try:
        return time.monotonic() - float(path.read_text()) <= within
    except (OSError, ValueError):
        return False
