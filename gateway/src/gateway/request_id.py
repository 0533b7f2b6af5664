"""Request ids: one per request, taken from a sane incoming ``X-Request-ID`` or generated,
echoed in the response and stamped on every log record written while the request is handled.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import trace

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


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Binds the request id for the duration of the request and echoes it in the response
    (also on error responses, which the error middleware inside has already rendered)."""
    request_id = sanitise_request_id(request.headers.get(HEADER))
    request[REQUEST_ID] = request_id
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("idmesh.request_id", request_id)
    token = current_request_id.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as passing:
        # Redirects and other non-error exceptions travel up as exceptions; tag them too.
        passing.headers[HEADER] = request_id
        raise
    finally:
        current_request_id.reset(token)
    response.headers[HEADER] = request_id
    return response


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
