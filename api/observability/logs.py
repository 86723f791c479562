"""Log lines that name their request: a filter puts the request id (and, once known, tenant, user and operation)
on every record; ``CIVICGRID_LOG_FORMAT=json`` writes one JSON object a line.

Fields are civicgrid's own: never a request's variables, a token, or a person's name or phone (the user id is
the identity provider's opaque subject)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from api.observability import requests
from tenants.settings import Settings

# Record attributes the JSON formatter writes when present (set by the filter or by ``extra=``).
FIELDS = ("request_id", "tenant", "user", "operation", "operation_type", "handler", "status", "outcome",
          "duration_ms", "job_kind", "job_tenant", "job_period")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestFilter(logging.Filter):
    """Adds the current request's id, tenant, user and operation to each record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = requests.current()
        if not hasattr(record, "request_id"):
            record.request_id = info.request_id if info else "-"
        if info is not None:
            for name in ("tenant", "user", "operation"):
                if getattr(record, name, None) is None and getattr(info, name) is not None:
                    setattr(record, name, getattr(info, name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request's fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "-":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


_MARK = "_civicgrid_observability"


def configure(settings: Settings) -> None:
    """Send civicgrid's logs (and uvicorn's, arq's) through one stderr handler in the configured format, each
    line with its request id. Idempotent; called when the API or the worker starts (after uvicorn configured
    its own logging). uvicorn's access lines are muted: ``civicgrid.access`` writes one per request."""
    handler = next((h for h in logging.getLogger().handlers if getattr(h, _MARK, False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _MARK, True)
        handler.addFilter(RequestFilter())
        logging.getLogger().addHandler(handler)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.getLogger("civicgrid").setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "arq"):  # their own handlers, when they configured some
        for h in logging.getLogger(name).handlers:
            if not any(isinstance(f, RequestFilter) for f in h.filters):
                h.addFilter(RequestFilter())
            if settings.log_format == "json":
                h.setFormatter(JsonFormatter())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
