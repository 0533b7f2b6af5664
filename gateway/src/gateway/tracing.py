"""The server span of an HTTP request: named ``GET /api/v1/accounts/{name}`` after its route
template, child of the caller's W3C ``traceparent`` when one came, parent of every downstream
gRPC call (meshkit.channels), per the HTTP semantic conventions.

Ours rather than opentelemetry-instrumentation-aiohttp-server: that middleware computes its
attributes and records its metrics on every request, sampled or not, and copies the query
string (OAuth codes, SAML artefacts, SCIM filters with emails) into ``url.query``. Here the
attributes are set only on a span that records, the query string never, and with tracing off
(meshkit.telemetry) nothing is made at all. Request and response headers are never recorded.
"""

from __future__ import annotations

from aiohttp import web
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from gateway.access_log import route_template

SCOPE = "gateway.http"


class ServerSpans:
    """Starts and ends the SERVER span of each traced request."""

    def __init__(self) -> None:
        self._tracer = trace.get_tracer(SCOPE)

    def start(self, request: web.Request) -> tuple[trace.Span, object]:
        """The request's span, current from now on; pass both to ``end``."""
        parent = propagate.extract(request.headers)
        route = route_template(request)
        span = self._tracer.start_span(
            f"{request.method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            record_exception=False,
            set_status_on_exception=False,
        )
        if span.is_recording():
            span.set_attributes(
                {
                    "http.request.method": request.method,
                    "url.scheme": request.scheme,
                    "url.path": request.path,
                    "http.route": route,
                    "server.address": request.host,
                    "user_agent.original": request.headers.get("User-Agent", ""),
                }
            )
        token = context.attach(trace.set_span_in_context(span, parent))
        return span, token

    @staticmethod
    def end(span: trace.Span, token: object, status: int) -> None:
        """Records the status sent (5xx marks the span failed) and ends the span."""
        if span.is_recording():
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end()
        context.detach(token)  # type: ignore[arg-type]
