"""The SAML 2.0 endpoints of the gateway (sso-security.md §2). The gateway only carries: auth
validates the response, the RelayState and the browser binding, and records the login trace.

- ``GET /sso/saml/{connection}/start``: auth makes the AuthnRequest and the login transaction;
  we set the SAML browser-binding cookie and redirect to the IdP (HTTP-Redirect binding).
- ``POST /sso/saml/{connection}/acs``: the IdP's HTTP-POST (SAMLResponse, RelayState); auth
  finishes the login; we set the session cookie and go to the validated return_to. The body is
  capped before it is read (row 16). A valid IdP-initiated response opens no session: auth
  asks for a restart and we send the browser to ``start`` (row 15, login CSRF).
- ``GET /sso/saml/{connection}/metadata``: our SP metadata for the IdP admin.

The ACS POST arrives cross-site from the IdP, so SameSite=Lax cookies are not sent with it: the
SAML binding cookie is SameSite=None (and therefore Secure) when PUBLIC_URL is https, path
/sso/saml/ only. Over plain http (development) it is Lax, which clients other than browsers and
same-site IdPs carry.
"""

from __future__ import annotations

from datetime import UTC
from typing import Final
from urllib.parse import urlencode

import grpc
from aiohttp import web

from gateway.config import GatewayConfig
from gateway.forms import read_form
from gateway.pages.html import redirect, secure
from gateway.sso import cookies
from gateway.sso.routes import (
    DEFAULT_RETURN_TO,
    MAX_PARAM,
    START_DEADLINE_SECONDS,
    _connection_id,
    _outcome,
    _param,
    client_origin,
    tested_redirect,
)
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, NotFound

SAML_COOKIE: Final = "idmesh_saml"
SAML_COOKIE_PATH: Final = "/sso/saml/"
FINISH_DEADLINE_SECONDS: Final = 20.0
# Bindings 3.5: the form's SAMLResponse; 256 KiB of XML is ~342 KiB of base64, plus RelayState.
MAX_ACS_BODY: Final = 400 * 1024


def _binding(request: web.Request) -> str:
    value = request.cookies.get(SAML_COOKIE, "")
    return value if cookies._LOGIN_VALUE.match(value) else ""


async def start(request: web.Request) -> web.StreamResponse:
    """Starts a SAML login with the connection (from the sign-in page's button or HRD)."""
    connection_id = _connection_id(request)
    config = request.app[CONFIG]
    started = await request.app[CLIENTS].auth.StartSamlLogin(
        auth_pb2.StartSamlLoginRequest(
            connection_id=connection_id,
            return_to=_param(request, "return_to") or DEFAULT_RETURN_TO,
            browser_binding=_binding(request),
        ),
        timeout=START_DEADLINE_SECONDS,
    )
    response = redirect(started.redirect_url, status=302)
    set_binding(response, started.browser_binding, config)
    return response


def set_binding(response: web.StreamResponse, value: str, config: GatewayConfig) -> None:
    """The SAML browser-binding cookie (a started login, or logout, waits for the IdP)."""
    https = cookies.secure(config)
    response.set_cookie(
        SAML_COOKIE,
        value,
        max_age=cookies.LOGIN_COOKIE_SECONDS,
        path=SAML_COOKIE_PATH,
        httponly=True,
        secure=https,
        samesite="None" if https else "Lax",
    )


async def acs(request: web.Request) -> web.StreamResponse:
    """The Assertion Consumer Service; every exit sets the outcome on the request's span."""
    try:
        connection_id = _connection_id(request)
        if request.content_length is None or request.content_length > MAX_ACS_BODY:
            raise InvalidArgument("the SAML POST is missing or too large", field="SAMLResponse")
        # Bindings 3.5.4: an HTML form; one that cannot be read is a 400, not a 500.
        form = await read_form(request, field="SAMLResponse")
        saml_response = form.get("SAMLResponse", "")
        relay_state = form.get("RelayState", "")
        if not isinstance(saml_response, str) or not isinstance(relay_state, str):
            raise InvalidArgument("SAMLResponse and RelayState are form fields")
        finished = await request.app[CLIENTS].auth.FinishSamlLogin(
            auth_pb2.FinishSamlLoginRequest(
                connection_id=connection_id,
                saml_response=saml_response,
                relay_state=relay_state if len(relay_state) <= MAX_PARAM else "",
                browser_binding=_binding(request),
                **client_origin(request),
            ),
            timeout=FINISH_DEADLINE_SECONDS,
        )
    except (grpc.aio.AioRpcError, NotFound, InvalidArgument):
        _outcome("failure")
        raise
    if finished.restart:
        _outcome("restarted")
        query = urlencode({"return_to": finished.return_to or DEFAULT_RETURN_TO})
        return redirect(f"/sso/saml/{connection_id}/start?{query}")
    _outcome("success")
    if finished.test:
        tested = tested_redirect(finished.return_to, finished.trace_id)
        tested.del_cookie(SAML_COOKIE, path=SAML_COOKIE_PATH)
        return tested
    response = redirect(finished.return_to or DEFAULT_RETURN_TO)
    cookies.set_session(
        response,
        finished.session_secret,
        finished.session.expire_time.ToDatetime().replace(tzinfo=UTC),
        request.app[CONFIG],
    )
    response.del_cookie(SAML_COOKIE, path=SAML_COOKIE_PATH)
    return response


async def metadata(request: web.Request) -> web.StreamResponse:
    """Our SP metadata for this connection (public: entity id, ACS URL, certificate)."""
    connection_id = _connection_id(request)
    found = await request.app[CLIENTS].auth.GetSamlMetadata(
        auth_pb2.GetSamlMetadataRequest(connection_id=connection_id),
        timeout=START_DEADLINE_SECONDS,
    )
    response = web.Response(text=found.metadata_xml, content_type="application/samlmetadata+xml")
    return secure(response)


def add_saml_routes(app: web.Application) -> None:
    app.router.add_get("/sso/saml/{connection}/start", start)
    app.router.add_post("/sso/saml/{connection}/acs", acs)
    app.router.add_get("/sso/saml/{connection}/metadata", metadata)
