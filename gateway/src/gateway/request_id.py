"""Request ids: one per request, taken from a sane incoming ``X-Request-ID`` or generated,
echoed in the response and stamped on every log record written while the request is handled
(bound by gateway.front_door).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from aiohttp import web

HEADER = "X-Request-ID"
# What a proxy or a client may pass on: 1 to 128 of letters, digits, dot, underscore, hyphen.
# Anything else (spaces, quotes, control characters, JSON) is replaced, so the id is safe in
# JSON and plain log lines and in a header.
_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)


def sanitise_request_id(incoming: str | None) -> str:
    """``incoming`` when it is 1-128 characters of [A-Za-z0-9._-], else a new random id."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


_installed = False


def install_log_field() -> None:
    """Adds ``request_id`` to every log record created inside a request (a record factory, so
    it works with any handler and formatter: meshkit's JSON formatter emits it as a field, the
    plain one as ``request_id=...``). Idempotent."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        request_id = current_request_id.get()
        if request_id:
            record.request_id = request_id
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
