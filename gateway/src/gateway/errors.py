"""Errors to HTTP: the gRPC status mapping, RFC 9457 problem bodies and the middleware.

Every failure of a handler (a peer's ``grpc.aio.AioRpcError``, a ``meshkit.errors.ServiceError``
raised here, an aiohttp ``HTTPException`` such as 404/405/413, or an unexpected exception)
becomes a ``Problem`` first, and a renderer turns the problem into a response. The default
renderer answers ``application/problem+json``; a sub-application or a path prefix can plug in
its own (SCIM answers RFC 7644 §3.12 bodies) with ``use_error_renderer``.

What reaches the caller: the peer's message only for the codes a caller can act on (the 4xx
family, whose messages meshkit promises are safe to send); a fixed generic text for every other
code, so no internal detail, address or stack trace ever leaks. Never a bare aiohttp 500 page.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

import grpc
from aiohttp import web
from aiohttp.typedefs import Handler

from meshkit.errors import ServiceError, from_rpc_error
from meshkit.telemetry import current_trace_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
BEARER_CHALLENGE = 'Bearer realm="idmesh"'
VERSION_MISMATCH = "version_mismatch"
"""The ServiceError reason of a failed optimistic-concurrency check (expected_version)."""
# FAILED_PRECONDITION reasons that are a conflict with state outside the request (RFC 9110
# §15.5.10): the domain's DNS does not show its challenge record (yet); retrying after fixing
# DNS succeeds, unlike a 400.
_CONFLICT_REASONS = frozenset({"txt_record_missing", "txt_record_mismatch", "dns_lookup_failed"})

_C = grpc.StatusCode
# google/rpc/code.proto, "HTTP Mapping" of each code; 412 for our version_mismatch is the one
# deliberate refinement (RFC 9110 §15.5.13: an If-Match / expected version that does not hold).
_HTTP_STATUS: Mapping[grpc.StatusCode, int] = {
    _C.OK: 200,
    _C.CANCELLED: 499,
    _C.UNKNOWN: 500,
    _C.INVALID_ARGUMENT: 400,
    _C.DEADLINE_EXCEEDED: 504,
    _C.NOT_FOUND: 404,
    _C.ALREADY_EXISTS: 409,
    _C.PERMISSION_DENIED: 403,
    _C.RESOURCE_EXHAUSTED: 429,
    _C.FAILED_PRECONDITION: 400,
    _C.ABORTED: 409,
    _C.OUT_OF_RANGE: 400,
    _C.UNIMPLEMENTED: 501,
    _C.INTERNAL: 500,
    _C.UNAVAILABLE: 503,
    _C.DATA_LOSS: 500,
    _C.UNAUTHENTICATED: 401,
}

# Codes whose message was written for the caller (meshkit.errors.ServiceError: "no secrets in
# it"). Every other code gets a fixed text: transport messages name internal addresses, and
# INTERNAL/UNKNOWN may carry anything.
_CALLER_FACING = frozenset(
    {
        _C.INVALID_ARGUMENT,
        _C.NOT_FOUND,
        _C.ALREADY_EXISTS,
        _C.PERMISSION_DENIED,
        _C.RESOURCE_EXHAUSTED,
        _C.FAILED_PRECONDITION,
        _C.ABORTED,
        _C.OUT_OF_RANGE,
        _C.UNAUTHENTICATED,
    }
)
_GENERIC_DETAIL = {
    499: "The request was cancelled.",
    501: "This operation is not implemented.",
    503: "A service is temporarily unavailable; retry later.",
    504: "A service did not answer in time; retry later.",
}
INTERNAL_DETAIL = "An internal error occurred."


def http_status(code: grpc.StatusCode, reason: str = "") -> int:
    """The HTTP status for a gRPC status code (google/rpc/code.proto), with FAILED_PRECONDITION
    of reason "version_mismatch" answered 412 Precondition Failed and of a DNS verification
    reason 409 Conflict. Unknown codes are 500."""
    if code is _C.FAILED_PRECONDITION and reason == VERSION_MISMATCH:
        return 412
    if code is _C.FAILED_PRECONDITION and reason in _CONFLICT_REASONS:
        return 409
    return _HTTP_STATUS.get(code, 500)


@dataclass(frozen=True)
class Problem:
    """One failure, independent of the body format that reports it (RFC 9457 vocabulary)."""

    status: int
    detail: str
    title: str = ""
    field: str = ""
    """The offending request field, when the failure names one."""
    reason: str = ""
    """A machine-readable word (meshkit ServiceError.reason), e.g. "uniqueness"."""
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    trace_id: str = ""
    type: str = "about:blank"

    def __post_init__(self) -> None:
        if not self.title:
            # RFC 9457 §4.2.1: with type about:blank the title is the status phrase.
            object.__setattr__(self, "title", _phrase(self.status))


def _phrase(status: int) -> str:
    if status == 499:
        return "Client Closed Request"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _description(status: int) -> str:
    try:
        return HTTPStatus(status).description + "."
    except ValueError:
        return "The request failed."


def _standard_headers(status: int) -> dict[str, str]:
    if status == 503:
        return {"Retry-After": "1"}
    if status == 401:
        # RFC 9110 §11.6.1: a 401 carries a challenge.
        return {"WWW-Authenticate": BEARER_CHALLENGE}
    return {}


def problem_for_status(
    code: grpc.StatusCode,
    message: str,
    *,
    field: str = "",
    reason: str = "",
    headers: Mapping[str, str] | None = None,
) -> Problem:
    """The problem for a gRPC code and its message; the message and field are kept only for
    caller-facing codes."""
    status = http_status(code, reason)
    merged = {**_standard_headers(status), **(headers or {})}
    trace_id = current_trace_id()
    if code in _CALLER_FACING:
        return Problem(
            status, message, field=field, reason=reason, headers=merged, trace_id=trace_id
        )
    detail = _GENERIC_DETAIL.get(status, INTERNAL_DETAIL)
    return Problem(status, detail, headers=merged, trace_id=trace_id)


class HttpServiceError(ServiceError):
    """A ServiceError raised in the gateway that also sets response headers, e.g. the
    ``WWW-Authenticate`` challenge of RFC 6750 §3 (``error="invalid_token"``)."""

    def __init__(
        self,
        base: ServiceError,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(base.message, field=base.field, reason=base.reason)
        self.code = base.code  # type: ignore[misc]
        self.headers = dict(headers)


def problem_from_exception(error: BaseException) -> Problem:
    """Classifies ``error`` (AioRpcError, ServiceError, HTTPException >= 400, anything else)."""
    if isinstance(error, grpc.aio.AioRpcError):
        # from_rpc_error recovers field and reason from the rich status, and turns gRPC's own
        # overload RESOURCE_EXHAUSTED into UNAVAILABLE (503, not the caller's 429); it also
        # folds DEADLINE_EXCEEDED into UNAVAILABLE, which we keep apart (504).
        rebuilt = from_rpc_error(error)
        deadline = error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        return problem_for_status(
            error.code() if deadline else rebuilt.code,
            rebuilt.message,
            field=rebuilt.field,
            reason=rebuilt.reason,
        )
    if isinstance(error, ServiceError):
        headers = error.headers if isinstance(error, HttpServiceError) else None
        return problem_for_status(
            error.code, error.message, field=error.field, reason=error.reason, headers=headers
        )
    if isinstance(error, web.HTTPException) and error.status >= 400:
        return _problem_from_http_exception(error)
    return Problem(500, INTERNAL_DETAIL, trace_id=current_trace_id())


def _problem_from_http_exception(error: web.HTTPException) -> Problem:
    # Keep headers that carry meaning (Allow on 405, WWW-Authenticate); drop the body's own.
    headers = {
        name: value
        for name, value in error.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    status = error.status
    if status >= 500:
        detail = _GENERIC_DETAIL.get(status, INTERNAL_DETAIL)
    else:
        text = error.text or ""
        default_text = f"{status}: {error.reason}"
        detail = text if text and text != default_text else _description(status)
    return Problem(
        status,
        detail,
        headers={**_standard_headers(status), **headers},
        trace_id=current_trace_id(),
    )


def problem_body(problem: Problem) -> dict[str, object]:
    """The RFC 9457 members, plus ``trace_id`` and, when a field is named, ``errors``."""
    body: dict[str, object] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "trace_id": problem.trace_id,
    }
    if problem.field:
        body["errors"] = [{"field": problem.field, "detail": problem.detail}]
    return body


def render_problem(request: web.Request, problem: Problem) -> web.StreamResponse:
    """The default renderer: ``application/problem+json`` (RFC 9457)."""
    response = web.json_response(
        problem_body(problem), status=problem.status, content_type=PROBLEM_CONTENT_TYPE
    )
    response.headers.update(problem.headers)
    return response


ErrorRenderer = Callable[[web.Request, Problem], web.StreamResponse]
ERROR_RENDERER: web.AppKey[ErrorRenderer] = web.AppKey("error_renderer")
ERROR_RENDERER_PREFIXES: web.AppKey[tuple[tuple[str, ErrorRenderer], ...]] = web.AppKey(
    "error_renderer_prefixes"
)


def use_error_renderer(
    app: web.Application, renderer: ErrorRenderer, *, prefix: str | None = None
) -> None:
    """Makes ``renderer`` answer the failures of ``app``'s routes (a sub-application's, the
    innermost application winning) or, with ``prefix``, of the paths equal to or under it
    (``"/scim/v2"`` covers ``/scim/v2/Users/1``; the longest prefix wins). Call it while
    building the application, before it starts."""
    if prefix is None:
        app[ERROR_RENDERER] = renderer
        return
    prefix = "/" + prefix.strip("/")
    current = [entry for entry in app.get(ERROR_RENDERER_PREFIXES, ()) if entry[0] != prefix]
    current.append((prefix, renderer))
    app[ERROR_RENDERER_PREFIXES] = tuple(sorted(current, key=lambda entry: -len(entry[0])))


def renderer_for(request: web.Request) -> ErrorRenderer:
    """The renderer for ``request``: a matching prefix, else the innermost app's, else JSON.

    Reads the matched application chain itself: ``request.config_dict`` seen from the root
    middleware stops at the root application, and this runs there."""
    path = request.path
    apps = list(reversed(request.match_info.apps)) or [request.app]
    for app in apps:
        for prefix, renderer in app.get(ERROR_RENDERER_PREFIXES, ()):
            if path == prefix or path.startswith(prefix + "/"):
                return renderer
    for app in apps:
        if ERROR_RENDERER in app:
            return app[ERROR_RENDERER]
    return render_problem


def _log(request: web.Request, error: BaseException, problem: Problem) -> None:
    route = request.match_info.route.resource
    where = route.canonical if route is not None else "unmatched route"
    if isinstance(error, grpc.aio.AioRpcError) and problem.status >= 500:
        # The peer's own log holds the details under the same trace id.
        logger.warning("downstream call failed with %s in %s", error.code().name, where)
    elif not isinstance(error, grpc.aio.AioRpcError | ServiceError | web.HTTPException):
        logger.error("unhandled error in %s %s", request.method, where, exc_info=error)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every failure of ``handler`` into a problem rendered by ``renderer_for``.
    Redirects and other non-error HTTPExceptions pass through unchanged. A 503 a handler
    relays (the scim service answers its own when directory is down) gets ``Retry-After``
    like the 503s rendered here (RFC 9110 §10.2.3)."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        problem = problem_from_exception(error)
    except Exception as error:  # the one place the gateway maps failures
        problem = problem_from_exception(error)
        _log(request, error, problem)
    else:
        if response.status == 503 and not response.prepared:
            response.headers.setdefault("Retry-After", _standard_headers(503)["Retry-After"])
        return response
    return renderer_for(request)(request, problem)
