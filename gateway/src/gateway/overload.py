"""Load shedding at the front door: a cap on the requests handled at once and a deadline on each.

aiohttp accepts every connection and runs every request at once, so under overload requests
would pile up (each holding its body, up to MAX_REQUEST_BYTES, and its downstream calls) until
memory or latency gave out. Beyond the cap a request is answered 503 with ``Retry-After``
immediately, without queueing (RFC 9110 §15.6.4); a request still running at its deadline is
cancelled and answered 504, so nothing waits forever. Both answers go through the error
renderer of the path (SCIM clients get RFC 7644 §3.12 bodies). The probes are exempt
(gateway.front_door): a busy gateway is alive, and its readiness reports its peers, not its own
load.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import Problem, renderer_for
from meshkit.telemetry import current_trace_id

BUSY_RETRY_AFTER = "1"
"""Seconds a shed client waits: requests last tens of milliseconds, so a slot frees soon."""


class InFlightLimit:
    """At most ``limit`` holders at once; ``try_enter`` never waits (no queue to grow)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self.current = 0

    def try_enter(self) -> bool:
        """Takes a slot and answers True, or answers False when all are taken."""
        if self.current >= self.limit:
            return False
        self.current += 1
        return True

    def leave(self) -> None:
        """Gives back a slot taken by ``try_enter``."""
        self.current -= 1


async def within_limits(
    request: web.Request, handler: Handler, limit: InFlightLimit, deadline_seconds: float
) -> web.StreamResponse:
    """``handler``'s answer to ``request``, or 503 (``Retry-After``) at once when ``limit`` is
    reached, or 504 when it runs longer than ``deadline_seconds``. Called outside the error
    middleware: it renders its own answers."""
    if not limit.try_enter():
        busy = Problem(
            503,
            "The server is busy; retry later.",
            headers={"Retry-After": BUSY_RETRY_AFTER},
            trace_id=current_trace_id(),
        )
        return renderer_for(request)(request, busy)
    try:
        async with asyncio.timeout(deadline_seconds) as deadline:
            return await handler(request)
    except TimeoutError:
        if not deadline.expired():
            raise
        late = Problem(
            504,
            "The request took too long and was stopped; retry later.",
            trace_id=current_trace_id(),
        )
        return renderer_for(request)(request, late)
    finally:
        limit.leave()
