"""Loket's logs: one JSON object per line on stderr (``LOKET_LOG_FORMAT=json``, the default of the long-running
``loket serve`` and ``loket scheduler``), or plain text lines (``text``, the default of the other commands and
of the tests).

A line carries time, level, logger and message, and, in a request, its request id, method, path (never the
query string), status, duration and the user's id when known. Nothing else from a request is logged: no
headers (tokens), no bodies (passwords, pupil data).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

# Fields a record may carry (``extra=``, or the request filter below) and that a JSON line then shows.
FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id", "worker")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class RequestFields(logging.Filter):
    """Adds the current request's id, method and path to every record logged while it is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import g, has_request_context, request

        if has_request_context() and getattr(record, "request_id", None) is None:
            record.request_id = g.get("loket_request_id")
            record.method = request.method
            record.path = request.path
        return True


def log_format(default: str = "text") -> str:
    chosen = (os.environ.get("LOKET_LOG_FORMAT") or default).strip().lower()
    return chosen if chosen in ("json", "text") else default


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure(default: str = "text", level: int = logging.INFO) -> str:
    """Send Loket's logs to stderr in the chosen format (LOKET_LOG_FORMAT, else ``default``); answers it."""
    fmt = log_format(default)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries speak up only when something is wrong.
    for noisy in ("apscheduler", "sqlalchemy", "alembic", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return fmt
