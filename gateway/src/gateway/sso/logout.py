"""Sign-out at the gateway: the browser's own, and the IdP's. The gateway only carries: auth ends
the sessions, verifies every logout message and records each in a login trace of kind logout.

- ``GET|POST /logout``: a form, then the session ends here and in auth; when the session's IdP
  takes logout requests the browser goes on to it (OIDC end_session_endpoint with
  id_token_hint; a signed SAML LogoutRequest), else to "signed out".
- ``GET /sso/oidc/{connection}/signed-out``: the post-logout redirect URI (RP-Initiated Logout
  1.0 §3) — the "signed out" page; it changes nothing, so its ``state`` needs no check.
- ``POST /sso/oidc/{connection}/backchannel-logout``: the IdP posts a logout token
  (Back-Channel Logout 1.0 §2.5); 200, or 400 with ``error`` (§2.8), never a 5xx.
- ``GET|POST /sso/saml/{connection}/slo``: our SingleLogoutService (HTTP-Redirect, HTTP-POST):
  an IdP-initiated LogoutRequest (answered with our signed LogoutResponse), or the
  LogoutResponse to ours (the "signed out" page, "partial" when the IdP says so).
"""

from __future__ import annotations

from typing import Final

import grpc
from aiohttp import web

from gateway.forms import read_form
from gateway.pages.html import redirect, secure
from gateway.pages.templates import render, render_page
from gateway.sso import cookies
from gateway.sso.origin import require_same_origin
from gateway.sso.routes import START_DEADLINE_SECONDS, _connection_id
from gateway.sso.saml import MAX_ACS_BODY, SAML_COOKIE, SAML_COOKIE_PATH, _binding, set_binding
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, NotFound

LOGOUT_DEADLINE_SECONDS: Final = 10.0
SIGNED_OUT_LOCAL: Final = "/login?signed_out=1"
# Back-Channel Logout 1.0 §2.5: a form with one logout token (a JWS of a few KiB).
MAX_BACKCHANNEL_BODY: Final = 64 * 1024
MAX_SLO_QUERY: Final = 16 * 1024
SIGNED_OUT_TEXT: Final = "You have signed out of idmesh and of your organisation's sign-in."
PARTIAL_TEXT: Final = (
    "You have signed out of idmesh. Your organisation's sign-in reports a partial logout: some"
    " other applications may still be signed in; close the browser to end them."
)


def signed_out_page(text: str = SIGNED_OUT_TEXT) -> web.Response:
    return render_page("signin/signed_out.html", {"title": "Signed out", "text": text})


async def logout_form(request: web.Request) -> web.StreamResponse:
    """A sign-out button (logging out is a POST: a link or an image must not end a session)."""
    return render(request, "signin/logout.html", {"title": "Sign out"})


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session in auth and clears the cookie; an absent session is no error. The
    browser then goes to the IdP when auth says it takes a logout request."""
    require_same_origin(request)
    config = request.app[CONFIG]
    secret = cookies.session_secret(request)
    location = SIGNED_OUT_LOCAL
    binding = ""
    if secret:
        ended = await request.app[CLIENTS].auth.EndSession(
            auth_pb2.EndSessionRequest(
                session_secret=secret, public_url=config.public_url,
                browser_binding=_binding(request),
            ),
            timeout=LOGOUT_DEADLINE_SECONDS,
        )  # fmt: skip
        location = ended.logout_url or SIGNED_OUT_LOCAL
        binding = ended.browser_binding
    response = redirect(location)
    cookies.clear_session(response, config)
    if binding:
        set_binding(response, binding, config)
    return secure(response)


async def oidc_signed_out(request: web.Request) -> web.StreamResponse:
    """The post-logout redirect URI: the IdP has ended its session too."""
    _connection_id(request)
    response = signed_out_page()
    cookies.clear_session(response, request.app[CONFIG])
    return response


def _bad_request(error: str, description: str) -> web.Response:
    response = web.json_response({"error": error, "error_description": description}, status=400)
    response.headers["Cache-Control"] = "no-store"
    return response


async def backchannel_logout(request: web.Request) -> web.StreamResponse:
    """Back-Channel Logout 1.0 §2.5-2.8: the IdP's server posts ``logout_token``; auth
    validates it and ends the sessions it names. Whatever fails is a 400 with ``error``."""
    try:
        connection_id = _connection_id(request)
        if request.content_length is None or request.content_length > MAX_BACKCHANNEL_BODY:
            return _bad_request("invalid_request", "the body is missing or too large")
        form = await read_form(request, field="logout_token")
        token = form.get("logout_token", "")
        if not isinstance(token, str) or not token:
            return _bad_request("invalid_request", "logout_token is required")
        await request.app[CLIENTS].auth.BackchannelLogout(
            auth_pb2.BackchannelLogoutRequest(connection_id=connection_id, logout_token=token),
            timeout=LOGOUT_DEADLINE_SECONDS,
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.INVALID_ARGUMENT:
            return _bad_request("invalid_request", (error.details() or "refused")[:200])
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return _bad_request("invalid_request", "no such connection")
        return _bad_request("temporarily_unavailable", "the logout could not be processed")
    except (NotFound, InvalidArgument) as error:
        return _bad_request("invalid_request", str(error)[:200])
    response = web.Response(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response


async def saml_slo(request: web.Request) -> web.StreamResponse:
    """Our SingleLogoutService for both bindings; failures render the HTML error page."""
    connection_id = _connection_id(request)
    message = auth_pb2.SamlLogoutRequest(
        connection_id=connection_id, browser_binding=_binding(request)
    )
    if request.method == "GET":
        # The redirect binding's signature covers the parameters exactly as sent.
        raw_query = request.raw_path.partition("?")[2]
        if len(raw_query) > MAX_SLO_QUERY:
            raise InvalidArgument("the SAML message is too large", field="SAMLRequest")
        message.binding, message.raw_query = "redirect", raw_query
    else:
        if request.content_length is None or request.content_length > MAX_ACS_BODY:
            raise InvalidArgument("the SAML POST is missing or too large", field="SAMLRequest")
        form = await read_form(request, field="SAMLRequest")
        fields = {
            name: form.get(name, "") for name in ("SAMLRequest", "SAMLResponse", "RelayState")
        }
        if not all(isinstance(value, str) for value in fields.values()):
            raise InvalidArgument("SAMLRequest, SAMLResponse and RelayState are form fields")
        message.binding = "post"
        message.saml_request = str(fields["SAMLRequest"])
        message.saml_response = str(fields["SAMLResponse"])
        message.relay_state = str(fields["RelayState"])[:1024]
    done = await request.app[CLIENTS].auth.SamlLogout(message, timeout=START_DEADLINE_SECONDS)
    config = request.app[CONFIG]
    if done.redirect_url:
        response = redirect(done.redirect_url, status=302)
    else:
        response = signed_out_page(PARTIAL_TEXT if done.partial else SIGNED_OUT_TEXT)
    cookies.clear_session(response, config)
    if done.signed_out:
        response.del_cookie(SAML_COOKIE, path=SAML_COOKIE_PATH)
    return response


def add_logout_routes(app: web.Application) -> None:
    app.router.add_get("/logout", logout_form)
    app.router.add_post("/logout", logout)
    app.router.add_get("/sso/oidc/{connection}/signed-out", oidc_signed_out)
    app.router.add_post("/sso/oidc/{connection}/backchannel-logout", backchannel_logout)
    app.router.add_get("/sso/saml/{connection}/slo", saml_slo)
    app.router.add_post("/sso/saml/{connection}/slo", saml_slo)
