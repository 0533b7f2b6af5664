"""``/admin/login`` and ``/admin/logout``: the bootstrap admins' local password sign-in.

The POST names the account, the email and the password; auth verifies the password (argon2id,
an unknown account or email still hashes) and opens a session the way an SSO login does, so the
same cookie and ``ValidateSession`` serve both. Every attempt, right or wrong, takes a token of
the rate limits first (429 with Retry-After when none is left). One message for every failure:
the form must not tell which accounts or emails exist.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Final

import grpc
from aiohttp import web

from gateway.admin.guard import SignInRequired, check_csrf, current_admin
from gateway.admin.ratelimit import LoginLimits
from gateway.errors import HttpServiceError
from gateway.forms import read_form
from gateway.pages.html import redirect
from gateway.pages.templates import render
from gateway.ratelimit import retry_after
from gateway.sso import cookies
from gateway.sso.origin import require_same_origin
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import ResourceExhausted

LIMITS: Final = web.AppKey("admin_login_limits", LoginLimits)
INVALID: Final = "The account, email or password is not right."
TITLE: Final = "Admin sign-in"


def login_page_response(
    request: web.Request,
    *,
    account: str = "",
    email: str = "",
    error: str = "",
    note: str = "",
    status: int = 200,
) -> web.Response:
    context = {"title": TITLE, "account": account, "email": email, "error": error, "note": note}
    return render(request, "signin/admin_login.html", context, status=status)


async def login_page(request: web.Request) -> web.StreamResponse:
    note = "You have signed out." if request.query.get("signed_out") else ""
    return login_page_response(request, note=note)


async def _account_id(request: web.Request, name: str) -> str:
    """The account's id; for an unknown name a random id, so auth still hashes (same timing)."""
    try:
        found = await request.app[CLIENTS].directory.GetAccount(
            directory_pb2.GetAccountRequest(name=name)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise
        return str(uuid.uuid4())
    return str(found.account.id)


async def login(request: web.Request) -> web.StreamResponse:
    require_same_origin(request)
    form = await read_form(request)
    account = str(form.get("account", "")).strip()[:63]
    email = str(form.get("email", "")).strip()[:320]
    password = str(form.get("password", ""))[:1024]
    wait = request.app[LIMITS].take(account, email, request.remote or "")
    if wait:
        raise HttpServiceError(
            ResourceExhausted("too many sign-in attempts", reason="rate_limited"),
            {"Retry-After": retry_after(wait)},
        )
    if not (account and email and password):
        return login_page_response(request, account=account, email=email, error=INVALID, status=400)
    try:
        verified = await request.app[CLIENTS].auth.VerifyLocalPassword(
            auth_pb2.VerifyLocalPasswordRequest(
                account_id=await _account_id(request, account),
                email=email,
                password=password,
                open_session=True,
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() not in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.INVALID_ARGUMENT,
        ):
            raise
        return login_page_response(request, account=account, email=email, error=INVALID, status=401)
    response = redirect("/admin")
    cookies.set_session(
        response,
        verified.session_secret,
        verified.session.expire_time.ToDatetime().replace(tzinfo=UTC),
        request.app[CONFIG],
    )
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session (with its CSRF token: a cross-site form must not sign anyone out)."""
    try:
        admin = await current_admin(request)
    except SignInRequired:
        admin = None
    if admin is not None:
        check_csrf(request, admin, await read_form(request))
        await request.app[CLIENTS].auth.EndSession(
            auth_pb2.EndSessionRequest(session_secret=cookies.session_secret(request))
        )
    response = redirect("/admin/login?signed_out=1")
    cookies.clear_session(response, request.app[CONFIG])
    return response
