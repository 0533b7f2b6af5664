"""Who may see an admin page: a live session (auth's ``ValidateSession``, the SSO session cookie
or one opened by the admin sign-in) whose user's account role grants the page's permission, and,
on every POST, a synchronizer token bound to that session (OWASP CSRF Prevention Cheat Sheet,
"Synchronizer Token Pattern") besides the same-origin check of the sign-in forms.

The token is HMAC-SHA256 of the session id under a key made when the gateway starts (one key
for all its workers, derived from their supervisor's secret, since a form one worker rendered
may be posted to another): nothing to store, different for every session, and unforgeable
without the key. A restart changes the key; an open form then needs a reload, which is
acceptable for admin pages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

import grpc
from aiohttp import web

from gateway.auth import has_permission
from gateway.pages.html import redirect
from gateway.sso import cookies
from gateway.sso.origin import require_same_origin
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import PermissionDenied
from meshkit.workers import shared_secret

CSRF_FIELD: Final = "csrf_token"
LOGIN_PATH: Final = "/admin/login"


@dataclass(frozen=True)
class CsrfKey:
    """The gateway process's key of the synchronizer tokens."""

    key: bytes

    @classmethod
    def generate(cls) -> CsrfKey:
        return cls(shared_secret("idmesh admin csrf key") or secrets.token_bytes(32))

    def token(self, session_id: str) -> str:
        return hmac.new(self.key, f"admin-csrf:{session_id}".encode(), hashlib.sha256).hexdigest()

    def matches(self, session_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(session_id), token)


CSRF_KEY: Final = web.AppKey("admin_csrf_key", CsrfKey)


@dataclass(frozen=True)
class Admin:
    """The signed-in admin of a request."""

    account_id: str
    user_id: str
    user_name: str
    permissions: frozenset[str]
    csrf_token: str

    def actor(self) -> directory_pb2.Actor:
        """The audit actor of a change made on the admin pages."""
        return directory_pb2.Actor(
            type=directory_pb2.ACTOR_TYPE_ADMIN_API,
            id=self.user_id,
            display_name=f"admin pages ({self.user_name})",
        )


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the admin sign-in."""


def to_sign_in(request: web.Request) -> web.Response:
    response = redirect(LOGIN_PATH)
    cookies.clear_session(response, request.app[CONFIG])
    return response


async def current_admin(request: web.Request) -> Admin:
    """The request's admin; SignInRequired without a live session."""
    secret = cookies.session_secret(request)
    if not secret:
        raise SignInRequired
    clients = request.app[CLIENTS]
    try:
        validated = await clients.auth.ValidateSession(
            auth_pb2.ValidateSessionRequest(session_secret=secret)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.UNAUTHENTICATED:
            raise SignInRequired from None
        raise
    session = validated.session
    access = await clients.directory.GetUserAccess(
        directory_pb2.GetUserAccessRequest(account_id=session.account_id, user_id=session.user_id)
    )
    return Admin(
        account_id=session.account_id,
        user_id=session.user_id,
        user_name=access.user.user_name,
        permissions=frozenset(access.account_role.permissions),
        csrf_token=request.app[CSRF_KEY].token(session.id),
    )


def require(admin: Admin, permission: str) -> None:
    """PermissionDenied (403) unless the admin's account role grants ``permission``."""
    if not has_permission(admin.permissions, permission):
        raise PermissionDenied(f"this page needs the {permission} permission", reason="forbidden")


def check_csrf(request: web.Request, admin: Admin, form: object) -> None:
    """PermissionDenied (403) unless a POST comes from our origin with the session's token."""
    require_same_origin(request)
    sent = form.get(CSRF_FIELD, "") if hasattr(form, "get") else ""
    if not isinstance(sent, str) or not hmac.compare_digest(admin.csrf_token, sent):
        raise PermissionDenied("the form's security token is missing or wrong", reason="csrf")
