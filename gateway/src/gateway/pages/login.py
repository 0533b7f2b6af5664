"""``/login``: the sign-in page.

- ``GET /login``: asks for a work email (home-realm discovery);
- ``POST /login``: routes the email's domain to its connection and starts the login there
  (the email goes along as ``login_hint``, the IdP pre-fills it);
- ``GET /login?account=NAME``: one "Sign in with <IdP>" button per connection of the account.

``return_to`` is carried along untouched and validated by auth when the login starts.
"""

from __future__ import annotations

from typing import Final

import grpc
from aiohttp import web
from yarl import URL

from gateway.forms import read_form
from gateway.pages.html import redirect
from gateway.pages.templates import render
from gateway.sso.origin import require_same_origin
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2

MAX_EMAIL: Final = 320
MAX_RETURN_TO: Final = 2048
NO_SSO: Final = "No single sign-on is set up for this account."


def start_url(
    connection_id: str, *, return_to: str = "", login_hint: str = "", protocol: str = "oidc"
) -> str:
    query = {}
    if return_to:
        query["return_to"] = return_to
    if login_hint:
        query["login_hint"] = login_hint
    if protocol == "saml":
        # The AuthnRequest carries no login hint here (Subject in an AuthnRequest is optional
        # and IdPs treat it differently).
        query.pop("login_hint", None)
        return str(URL.build(path=f"/sso/saml/{connection_id}/start", query=query))
    return str(URL.build(path=f"/sso/oidc/{connection_id}/start", query=query))


def _return_to(value: str) -> str:
    return value if len(value) <= MAX_RETURN_TO else ""


def email_page(
    request: web.Request,
    *,
    return_to: str = "",
    email: str = "",
    error: str = "",
    note: str = "",
    status: int = 200,
) -> web.Response:
    context = {
        "title": "Sign in",
        "return_to": return_to,
        "email": email,
        "error": error,
        "note": note,
    }
    return render(request, "signin/email.html", context, status=status)


async def login_page(request: web.Request) -> web.StreamResponse:
    return_to = _return_to(request.query.get("return_to", ""))
    account = request.query.get("account", "").strip()
    if account:
        return await _account_options(request, account[:63], return_to)
    note = "You have signed out." if request.query.get("signed_out") else ""
    return email_page(request, return_to=return_to, note=note)


def _options_page(request: web.Request, title: str, options: list[dict[str, str]]) -> web.Response:
    context = {"title": title, "options": options, "no_sso": NO_SSO}
    return render(request, "signin/options.html", context)


async def _account_options(request: web.Request, account: str, return_to: str) -> web.Response:
    clients = request.app[CLIENTS]
    try:
        found = await clients.directory.GetAccount(directory_pb2.GetAccountRequest(name=account))
    except grpc.aio.AioRpcError as error:
        if error.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise
        return _options_page(request, "Sign in", [])
    options = await clients.auth.ListLoginOptions(
        auth_pb2.ListLoginOptionsRequest(account_id=found.account.id)
    )
    if not options.options:
        return _options_page(request, "Sign in", [])
    buttons = [
        {
            "name": o.display_name,
            "href": start_url(o.connection_id, return_to=return_to, protocol=o.protocol),
        }
        for o in options.options
    ]
    title = f"Sign in to {found.account.display_name or found.account.name}"
    return _options_page(request, title, buttons)


async def discover(request: web.Request) -> web.StreamResponse:
    """Home-realm discovery: the email's domain, verified by exactly one account, names that
    account's connection, where the login starts with the email as login_hint."""
    require_same_origin(request)
    form = await read_form(request)
    email = str(form.get("email", "")).strip()[:MAX_EMAIL]
    return_to = _return_to(str(form.get("return_to", "")))
    if "@" not in email:
        return email_page(
            request, return_to=return_to, email=email, error="Enter your work email.", status=400
        )
    try:
        found = await request.app[CLIENTS].auth.DiscoverConnection(
            auth_pb2.DiscoverConnectionRequest(email=email)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is not grpc.StatusCode.NOT_FOUND:
            raise
        return email_page(
            request,
            return_to=return_to,
            email=email,
            error="No single sign-on is set up for this email's domain. Check the address, or "
            "ask your administrator for your organisation's sign-in link.",
            status=404,
        )
    return redirect(
        start_url(
            found.option.connection_id,
            return_to=return_to,
            login_hint=email,
            protocol=found.option.protocol,
        )
    )
