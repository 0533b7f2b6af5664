"""Server spans for incoming HTTP requests (opentelemetry-instrumentation-aiohttp-server).

The gRPC client interceptors on our channels (meshkit.channels) then make every downstream call
a child of the request's span, and W3C ``traceparent`` headers from the caller are honoured.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

UNTRACED_PATHS = frozenset({"/healthz", "/readyz"})
"""Probes hit these every few seconds; their spans would drown the logins SREs look for."""

_globals_ready = False


def _prepare_instrumentation() -> Any:
    """The instrumentation module, with its module globals filled in.

    In 0.66b1 the middleware reads its tracer, its meters and its excluded-URL list from module
    globals that only ``AioHttpServerInstrumentor.instrument()`` fills, and ``instrument()`` also
    swaps ``aiohttp.web.Application`` for a subclass that inserts the middleware into every
    application created afterwards, sub-applications included (each would open a second, nested
    server span). So we instrument once to fill the globals, restore ``web.Application`` at once,
    and add the middleware explicitly to the root application only."""
    global _globals_ready
    from opentelemetry.instrumentation import aiohttp_server

    if not _globals_ready:
        instrumentor = aiohttp_server.AioHttpServerInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            with warnings.catch_warnings():
                # Its subclass of web.Application (unused here) draws aiohttp's warning.
                warnings.simplefilter("ignore", DeprecationWarning)
                instrumentor.instrument()
            instrumentor.uninstrument()
        _globals_ready = True
    return aiohttp_server


def tracing_middleware(untraced: Collection[str] = UNTRACED_PATHS) -> Middleware:
    """A middleware that opens a SERVER span per request (named ``GET /api/v1/accounts/{name}``,
    with no query string in its attributes), except for the paths in ``untraced``.
    OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS still excludes more. Request and response headers
    are recorded only when OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* ask for them: never set
    those to include Authorization or Cookie."""
    instrumented: Any = _prepare_instrumentation().create_aiohttp_middleware()
    skipped = frozenset(untraced)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in skipped:
            return await handler(request)
        if not request.query_string:
            traced: web.StreamResponse = await instrumented(request, handler)
            return traced

        # The instrumentation copies the query string into http.target / url.query and redacts
        # only a few AWS/Google signature names; OAuth codes, SAML artefacts and SCIM filters
        # (emails) travel there. It sees a copy without the query; the handler gets the request.
        async def original(_: web.Request) -> web.StreamResponse:
            return await handler(request)

        without_query = request.clone(rel_url=request.rel_url.with_query(None))
        response: web.StreamResponse = await instrumented(without_query, original)
        return response

    return middleware
