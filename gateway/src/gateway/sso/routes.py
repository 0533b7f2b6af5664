"""The OIDC endpoints of the gateway: start, callback, logout. The gateway only carries: auth
validates the state, the code, the ID token and the session, and records the login trace.

- ``GET /sso/oidc/{connection}/start``: auth makes the login transaction; we set the browser
  binding cookie and redirect to the IdP.
- ``GET /sso/oidc/{connection}/callback``: the IdP's redirect with code, state and iss; auth
  finishes the login; we set the session cookie and go to the validated return_to (a test
  sign-in of the setup wizard opens no session: back to its page with the trace id). The span
  attribute ``idmesh.login.outcome`` (success | failure) is set on this request's server span:
  the collector's tail sampling keeps every failed login by it.
- sign-out: gateway.sso.logout.

Failures render the uniform HTML error page with the trace id (gateway.pages.errors).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC
from typing import Final
from urllib.parse import urlencode

import grpc
from aiohttp import web
from opentelemetry import trace

from gateway.pages.html import redirect
from gateway.sso import cookies
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import NotFound

START_DEADLINE_SECONDS: Final = 10.0
# The token exchange, the JWKS and directory's transaction each have their own deadline in
# auth; this bounds the whole.
FINISH_DEADLINE_SECONDS: Final = 20.0
DEFAULT_RETURN_TO: Final = "/me"
MAX_PARAM: Final = 4096
OUTCOME_ATTRIBUTE: Final = "idmesh.login.outcome"
_CONNECTION: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _connection_id(request: web.Request) -> str:
    raw = request.match_info["connection"].lower()
    if not _CONNECTION.match(raw):
        raise NotFound("connection not found")
    return str(uuid.UUID(raw))


def _param(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    return value if len(value) <= MAX_PARAM else ""


def client_origin(request: web.Request) -> dict[str, str]:
    """Where the browser signs in from, as its session records it (shown to admins): the
    peer address (the ingress's, behind one) and the User-Agent, cut short."""
    return {
        "client_ip": (request.remote or "")[:64],
        "user_agent": request.headers.get("User-Agent", "")[:512],
    }


def callback_url(request: web.Request, connection_id: str) -> str:
    return f"{request.app[CONFIG].public_url}/sso/oidc/{connection_id}/callback"


async def start(request: web.Request) -> web.StreamResponse:
    """Starts an OIDC login with the connection (from the sign-in page's button or HRD)."""
    connection_id = _connection_id(request)
    config = request.app[CONFIG]
    started = await request.app[CLIENTS].auth.StartOidcLogin(
        auth_pb2.StartOidcLoginRequest(
            connection_id=connection_id,
            redirect_uri=callback_url(request, connection_id),
            login_hint=_param(request, "login_hint"),
            return_to=_param(request, "return_to") or DEFAULT_RETURN_TO,
            browser_binding=cookies.login_binding(request),
        ),
        timeout=START_DEADLINE_SECONDS,
    )
    response = redirect(started.authorization_url, status=302)
    cookies.set_login(response, started.browser_binding, config)
    return response


def tested_redirect(return_to: str, trace_id: str) -> web.Response:
    """Where a test sign-in ends: its (validated, same-origin) page, naming its trace."""
    joiner = "&" if "?" in return_to else "?"
    return redirect(f"{return_to}{joiner}{urlencode({'trace': trace_id})}")


def _outcome(value: str) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(OUTCOME_ATTRIBUTE, value)


async def callback(request: web.Request) -> web.StreamResponse:
    """Finishes the login; every exit sets the outcome on the request's span."""
    try:
        connection_id = _connection_id(request)
        finished = await request.app[CLIENTS].auth.FinishOidcLogin(
            auth_pb2.FinishOidcLoginRequest(
                connection_id=connection_id,
                redirect_uri=callback_url(request, connection_id),
                state=_param(request, "state"),
                code=_param(request, "code"),
                iss=_param(request, "iss"),
                error=_param(request, "error")[:64],
                browser_binding=cookies.login_binding(request),
                **client_origin(request),
            ),
            timeout=FINISH_DEADLINE_SECONDS,
        )
    except (grpc.aio.AioRpcError, NotFound):
        _outcome("failure")
        raise
    _outcome("success")
    if finished.test:
        return tested_redirect(finished.return_to, finished.trace_id)
    response = redirect(finished.return_to or DEFAULT_RETURN_TO)
    cookies.set_session(
        response,
        finished.session_secret,
        finished.session.expire_time.ToDatetime().replace(tzinfo=UTC),
        request.app[CONFIG],
    )
    return response
