"""Logging: JSON lines (LOG_FORMAT=json, the default in containers) or plain text, each record
carrying the service name and the active trace and span ids so a log line leads to its trace,
and, when the service runs several workers, the worker's index (meshkit.workers).

Never log secrets, tokens, assertion bodies or request bodies; log ids and outcomes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from meshkit.workers import WorkerIdentity

# Attributes every LogRecord has; anything else was passed in `extra=` and is emitted as a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _trace_fields() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, worker: int | None = None) -> None:
        super().__init__()
        self.service = service
        self.worker = {} if worker is None else {"worker": worker}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            **self.worker,
            "logger": record.name,
            "message": record.getMessage(),
            **_trace_fields(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self, service: str, worker: int | None = None) -> None:
        label = service if worker is None else f"{service}[{worker}]"
        super().__init__("%(asctime)s %(levelname)-7s " + label + " %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        extra.update(_trace_fields())
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def setup_logging(service: str, identity: WorkerIdentity | None = None) -> None:
    """Configures the root logger from LOG_FORMAT (json | plain) and LOG_LEVEL (default info);
    the lines of a supervised worker carry its index (``"worker": 1``, or ``gateway[1]``)."""
    fmt = os.environ.get("LOG_FORMAT", "json").strip().lower()
    level = os.environ.get("LOG_LEVEL", "info").strip().upper()
    worker = identity.index if identity is not None and identity.supervised else None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        PlainFormatter(service, worker) if fmt == "plain" else JsonFormatter(service, worker)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
