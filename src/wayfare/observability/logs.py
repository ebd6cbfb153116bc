"""Log lines, configured once at each entry point (``serve``, ``worker`` and the processes
``serve`` starts): text (``time LEVEL logger: message``) or JSON (one object a line), at
the level the settings give. The access log (``access_log``) is one line a request on the
``wayfare.access`` logger, with its fields also as JSON keys."""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any

import orjson

ACCESS_LOGGER = "wayfare.access"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "bytes")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, the access
    log's fields when there, and the exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ACCESS_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """Send every log line to stderr in ``log_format`` from ``level`` up; called again (a
    child once it has read its settings), it replaces what was configured."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per action
