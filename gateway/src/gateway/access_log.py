"""The access log, replacing aiohttp's own: every error, every slow request, and a sample of
the rest (ACCESS_LOG_SAMPLE).

aiohttp's access log writes the raw request line, query string included, where OAuth codes,
SAML artefacts or tokens may travel, and formats it as free text. This line carries only the
method, the route template (``/api/v1/accounts/{name}``, never the concrete path or query), the
status and the duration; the request id and the trace id are added by the logging setup.
Never headers or bodies.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from aiohttp import web
from opentelemetry import trace

logger = logging.getLogger("gateway.access")

UNMATCHED_ROUTE = "(unmatched)"
# nginx's convention for "the client went away before the response", as in the error mapping.
CLIENT_CLOSED = 499
# A request this slow is always logged, whatever its status.
SLOW_SECONDS: Final = 1.0


ROUTE: Final = web.RequestKey("route", str)
"""A finer template a catch-all handler names for its request (name_route)."""


def name_route(request: web.Request, template: str) -> None:
    """Names the route of ``request`` more finely than its catch-all route (SCIM's one route
    for every path, gateway.scim): in the access-log line, and as the server span's name and
    ``http.route``."""
    request[ROUTE] = template
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{request.method} {template}")
        span.set_attribute("http.route", template)


def route_template(request: web.Request) -> str:
    """The normalised path of ``request``: the template its handler named (name_route), its
    route's template, or "(unmatched)" when no route matched (the concrete path of an unknown
    URL could hold anything)."""
    if ROUTE in request:
        return request[ROUTE]
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


def _method(request: web.Request) -> str:
    # Methods are a short token in practice; an absurd one is not copied into the log.
    method = request.method
    return method if method.isalpha() and len(method) <= 16 else "OTHER"


class AccessLog:
    """Writes ``method route status duration_ms`` for every error (status 400 and above) and
    every slow request, and for ``sample`` of the other requests (1.0: all of them; 0: none).

    Formatting and writing a line is a tenth of the gateway's CPU per request, and a line per
    success tells an SRE little that the trace and the error lines do not: so successes are
    sampled, evenly (every 1/sample-th, not at random, so a low rate still logs steadily)."""

    def __init__(self, sample: float, slow_seconds: float = SLOW_SECONDS) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError("the access-log sample is a fraction between 0 and 1")
        self._sample = sample
        self._slow = slow_seconds
        self._credit = 0.0

    def record(self, request: web.Request, status: int, started: float) -> None:
        """Logs the request that began at ``started`` (time.perf_counter) if it is due."""
        seconds = time.perf_counter() - started
        if status < 400 and seconds < self._slow:
            self._credit += self._sample
            if self._credit < 1.0:
                return
            self._credit -= 1.0
        duration_ms = round(seconds * 1000, 1)
        method, route = _method(request), route_template(request)
        logger.info(
            "%s %s %d %.1fms",
            method,
            route,
            status,
            duration_ms,
            extra={
                "http_method": method,
                "http_route": route,
                "http_status": status,
                "duration_ms": duration_ms,
            },
        )
