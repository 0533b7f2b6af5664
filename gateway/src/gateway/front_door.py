"""The one middleware every request enters first: its server span, its request id, load
shedding and its access-log line, in that order.

One layer, not four: aiohttp wraps each middleware in a new partial for every request and each
layer is a coroutine frame, and the four layers with the generic HTTP instrumentation were a
fifth of the gateway's CPU per SCIM request in a profile. Each concern keeps its own module
(tracing, request_id, overload, access_log); this one only puts them in order. The error
mapping stays the innermost middleware (gateway.errors), so that the span and the access line
see the status actually sent.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.access_log import CLIENT_CLOSED, AccessLog
from gateway.overload import InFlightLimit, within_limits
from gateway.request_id import HEADER, REQUEST_ID, current_request_id, sanitise_request_id
from gateway.tracing import ServerSpans
from meshkit.telemetry import tracing_on

PROBES = frozenset({"/healthz", "/readyz"})
"""Probes get no span (every few seconds, they would drown the logins SREs look for) and are
never shed (a busy gateway is alive)."""


def front_door_middleware(
    limit: InFlightLimit, deadline_seconds: float, access_log: AccessLog
) -> Middleware:
    """The middleware; ``limit`` and ``deadline_seconds`` as in gateway.overload."""
    spans = ServerSpans()

    @web.middleware
    async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        probe = request.path in PROBES
        traced = spans.start(request) if not probe and tracing_on() else None
        request_id = sanitise_request_id(request.headers.get(HEADER))
        request[REQUEST_ID] = request_id
        bound = current_request_id.set(request_id)
        if traced is not None and traced[0].is_recording():
            traced[0].set_attribute("idmesh.request_id", request_id)
        status = 500
        try:
            if probe:
                response = await handler(request)
            else:
                response = await within_limits(request, handler, limit, deadline_seconds)
            status = response.status
            response.headers[HEADER] = request_id
            return response
        except web.HTTPException as passing:
            # Redirects and other non-error exceptions travel up as exceptions; tag them too.
            status = passing.status
            passing.headers[HEADER] = request_id
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            access_log.record(request, status, started)
            current_request_id.reset(bound)
            if traced is not None:
                spans.end(*traced, status)

    return front_door
