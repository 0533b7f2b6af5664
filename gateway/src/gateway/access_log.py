"""One access-log line per request, replacing aiohttp's own access log.

aiohttp's access log writes the raw request line, query string included, where OAuth codes,
SAML artefacts or tokens may travel, and formats it as free text. This line carries only the
method, the route template (``/api/v1/accounts/{name}``, never the concrete path or query), the
status and the duration; the request id and the trace id are added by the logging setup.
Never headers or bodies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import trace

logger = logging.getLogger("gateway.access")

UNMATCHED_ROUTE = "(unmatched)"
# nginx's convention for "the client went away before the response", as in the error mapping.
CLIENT_CLOSED = 499


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


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Logs ``method route status duration_ms`` once the handler (and the error middleware inside
    it) has produced a response."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as passing:  # redirects raised as exceptions
        status = passing.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        duration_ms = round((time.perf_counter() - start) * 1000, 1)
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
