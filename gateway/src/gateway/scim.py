"""The SCIM 2.0 front door: ``/scim/v2`` (RFC 7644), forwarded to the scim service.

Order matters for security: every request under the prefix is authenticated first (one
catch-all route, so no spelling of a path can reach a resource without the token check:
Zitadel CVE-2026-32130, docs/scim-clients.md §7), then its path is percent-decoded and
normalised, then forwarded. The token names the account; the scim service sees nothing else.
Each account has its own rate limit (SCIM_RATE_LIMIT), one total across every gateway replica
(gateway.shared_ratelimit), checked right after authentication so one tenant's burst never
slows another's. Failures raised here answer RFC 7644 §3.12 error bodies, like the scim
service's own.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from aiohttp import web

from gateway.access_log import name_route
from gateway.auth import authenticate
from gateway.errors import HttpServiceError, Problem, use_error_renderer
from gateway.ratelimit import RateLimit, retry_after
from gateway.shared_ratelimit import SharedRateLimit, lease_from_auth
from gateway.state import CLIENTS, CONFIG
from idmesh.scim.v1 import scim_pb2
from meshkit.errors import InvalidArgument, NotFound, ResourceExhausted

PREFIX = "/scim/v2"
SCIM_CONTENT_TYPE = "application/scim+json"
# RFC 7644 §3.1: SCIM bodies are application/scim+json; Okta's SPEC test sends application/json.
_ACCEPTED_BODY_TYPES = frozenset({SCIM_CONTENT_TYPE, "application/json"})
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# RFC 7644 §3.12 scimType values for the failures the gateway itself detects.
_SCIM_TYPES = {"invalid_filter": "invalidFilter", "uniqueness": "uniqueness"}
# RFC 7644 §3.2 and §4: the endpoints under the base URL, each with resources named by an id.
_ENDPOINTS = frozenset(
    {"Users", "Groups", "Me", "Bulk", "ServiceProviderConfig", "ResourceTypes", "Schemas"}
)
REQUIRED_PERMISSION = "users:manage"
SCIM_RATE_LIMIT: web.AppKey[RateLimit] = web.AppKey("scim_rate_limit")
"""The per-account rate limit of SCIM requests."""


def normalised_path(raw_path: str) -> str:
    """The resource path relative to ``/scim/v2``, percent-decoded segment by segment, with empty
    segments and a trailing slash dropped. Dot segments, encoded slashes and control characters
    cannot name a SCIM resource: they are 404, never resolved (RFC 3986 §6.2.2 normalisation is
    not applied to hostile input)."""
    tail = raw_path[len(PREFIX) :] if raw_path.startswith(PREFIX) else raw_path
    segments = []
    for raw_segment in tail.split("/"):
        if not raw_segment:
            continue
        segment = unquote(raw_segment, errors="strict")
        if segment in (".", "..") or "/" in segment or any(ord(c) < 0x20 for c in segment):
            raise NotFound("No SCIM resource lives at this path.")
        segments.append(segment)
    return "/" + "/".join(segments)


def _check_content_type(request: web.Request) -> None:
    if request.method not in _METHODS_WITH_BODY or not request.can_read_body:
        return
    # A body without a Content-Type is read as JSON: lenient to clients that omit it.
    if "Content-Type" not in request.headers:
        return
    if request.content_type.lower() not in _ACCEPTED_BODY_TYPES:
        supported = f"send {SCIM_CONTENT_TYPE}"
        raise web.HTTPUnsupportedMediaType(
            text=f"Content-Type {request.content_type!r} is not supported: {supported}."
        )


async def _check_rate_limit(limiter: RateLimit, account_id: str) -> None:
    """Raises 429 with ``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3) when the account has
    used up its requests. Entra retries exactly the throttled requests after Retry-After
    (docs/scim-clients.md §6), so nothing is lost."""
    wait = await limiter.take(account_id)
    if wait:
        raise HttpServiceError(
            ResourceExhausted(
                f"Too many SCIM requests for this account: the limit is {limiter.rate:g} a "
                f"second, in bursts of up to {limiter.burst:g}. Retry after the number of "
                "seconds in Retry-After.",
                reason="rate_limited",
            ),
            {"Retry-After": retry_after(wait)},
        )


def resource_route(raw_path: str) -> str:
    """The route template of a SCIM path, for spans and access-log lines: ``/scim/v2/Users``,
    ``/scim/v2/Users/{id}``, ``/scim/v2/Groups/.search``, ``/scim/v2/Schemas/{id}``. Never the
    concrete path (ids, and whatever a hostile path holds); "/scim/v2/(unknown)" for a path
    that names no SCIM endpoint."""
    try:
        segments = normalised_path(raw_path).split("/")[1:]
    except (NotFound, UnicodeDecodeError):
        return f"{PREFIX}/(unknown)"
    if segments == [""]:
        return PREFIX
    if segments == [".search"]:
        return f"{PREFIX}/.search"
    collection, rest = segments[0], segments[1:]
    if collection not in _ENDPOINTS or len(rest) > 1:
        return f"{PREFIX}/(unknown)"
    if not rest:
        return f"{PREFIX}/{collection}"
    return f"{PREFIX}/{collection}/{'.search' if rest == ['.search'] else '{id}'}"


async def handle_scim(request: web.Request) -> web.StreamResponse:
    """Authenticates, normalises and forwards one SCIM request; relays the scim service's
    status, body, ``ETag`` and ``Location`` unchanged."""
    name_route(request, resource_route(request.raw_path.split("?", 1)[0]))
    clients = request.config_dict[CLIENTS]
    principal = await authenticate(request, clients, REQUIRED_PERMISSION)
    await _check_rate_limit(request.config_dict[SCIM_RATE_LIMIT], principal.account_id)
    try:
        path = normalised_path(request.raw_path.split("?", 1)[0])
    except UnicodeDecodeError:
        raise NotFound("No SCIM resource lives at this path.") from None
    _check_content_type(request)
    try:
        body = await request.read()
    except web.RequestPayloadError:
        # A body its Content-Encoding does not decode (aiohttp inflates gzip and deflate): the
        # client's error, not a 500.
        raise InvalidArgument("the body does not decode with its Content-Encoding") from None
    response = await clients.scim.HandleRequest(
        scim_pb2.HandleRequestRequest(
            account_id=principal.account_id,
            token_id=principal.token_id,
            permissions=sorted(principal.permissions),
            method=request.method,
            path=path,
            query=[
                scim_pb2.QueryParameter(name=name, value=value)
                for name, value in request.query.items()
            ],
            if_match=request.headers.get("If-Match", ""),
            content_type=request.headers.get("Content-Type", ""),
            body=body,
            base_url=request.config_dict[CONFIG].public_url + PREFIX,
        )
    )
    relayed = web.Response(status=response.status, body=response.body or None)
    if response.body:
        relayed.content_type = SCIM_CONTENT_TYPE
        relayed.charset = "utf-8"
    if response.etag:
        relayed.headers["ETag"] = response.etag
    if response.location:
        relayed.headers["Location"] = response.location
    return relayed


def render_scim_error(request: web.Request, problem: Problem) -> web.StreamResponse:
    """RFC 7644 §3.12: the Error schema, ``status`` as a string, ``scimType`` where one applies,
    the request's trace id at the end of ``detail``."""
    body: dict[str, object] = {
        "schemas": [_ERROR_SCHEMA],
        "status": str(problem.status),
        # The trace id in detail, as the scim service writes it (scim.errors.with_trace_id): the
        # Error schema has no member for it and strict clients refuse unknown ones.
        "detail": f"{problem.detail} (trace_id {problem.trace_id})"
        if problem.trace_id
        else problem.detail,
    }
    scim_type = _SCIM_TYPES.get(problem.reason)
    if scim_type:
        body["scimType"] = scim_type
    return web.Response(
        status=problem.status,
        text=json.dumps(body),
        content_type=SCIM_CONTENT_TYPE,
        charset="utf-8",
        headers=dict(problem.headers),
    )


def add_scim_routes(app: web.Application) -> None:
    """Registers the catch-all SCIM route, its per-account rate limit (from the application's
    configuration, shared through auth) and its error renderer on ``app``."""
    config = app[CONFIG]
    app[SCIM_RATE_LIMIT] = SharedRateLimit(
        "scim",
        rate=config.scim_rate_limit,
        burst=config.scim_rate_burst,
        lease=lease_from_auth(app[CLIENTS]),
    )
    app.router.add_route("*", PREFIX, handle_scim)
    app.router.add_route("*", PREFIX + "/{tail:.*}", handle_scim)
    use_error_renderer(app, render_scim_error, prefix=PREFIX)
