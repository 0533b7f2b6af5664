"""``/me``: who is signed in: profile, spaces and roles (with where each comes from), groups.

The session is validated by auth on every request (which also asks directory whether the user
is still active), so a deactivated or deleted user's page answers "sign in" at once.
"""

from __future__ import annotations

from typing import Any

import grpc
from aiohttp import web

from gateway.pages.html import redirect
from gateway.pages.templates import render
from gateway.sso import cookies
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2

_SOURCES = {
    directory_pb2.MEMBERSHIP_SOURCE_SSO: "single sign-on",
    directory_pb2.MEMBERSHIP_SOURCE_SCIM: "provisioning",
    directory_pb2.MEMBERSHIP_SOURCE_MANUAL: "added by an admin",
    directory_pb2.MEMBERSHIP_SOURCE_GROUP: "group",
}
_STATUSES = {
    directory_pb2.USER_STATUS_PENDING: "pending",
    directory_pb2.USER_STATUS_ACTIVE: "active",
    directory_pb2.USER_STATUS_DEACTIVATED: "deactivated",
}


def _sign_in_again(request: web.Request) -> web.Response:
    response = redirect("/login?return_to=/me")
    cookies.clear_session(response, request.app[CONFIG])
    return response


def role_source(role: directory_pb2.RoleGrant) -> str:
    """Where a role comes from, in words ("group Admins", "single sign-on")."""
    if role.source == directory_pb2.MEMBERSHIP_SOURCE_GROUP and role.group_name:
        return f"group {role.group_name}"
    return _SOURCES.get(role.source, "")


def me_context(access: directory_pb2.GetUserAccessResponse) -> dict[str, Any]:
    user = access.user
    name = user.display_name or " ".join(
        p for p in (user.name.given_name, user.name.family_name) if p
    )
    return {
        "title": "Your account",
        "wide": True,
        "user": user,
        "name": name,
        "status": _STATUSES.get(user.status, "—"),
        "spaces": [
            {
                "name": space.space_name,
                "roles": [{"name": r.role_name, "source": role_source(r)} for r in space.roles],
            }
            for space in access.spaces
        ],
        "groups": [group.display_name for group in access.groups],
    }


async def me(request: web.Request) -> web.StreamResponse:
    secret = cookies.session_secret(request)
    if not secret:
        return _sign_in_again(request)
    clients = request.app[CLIENTS]
    try:
        validated = await clients.auth.ValidateSession(
            auth_pb2.ValidateSessionRequest(session_secret=secret)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.UNAUTHENTICATED:
            return _sign_in_again(request)
        raise
    session = validated.session
    access = await clients.directory.GetUserAccess(
        directory_pb2.GetUserAccessRequest(account_id=session.account_id, user_id=session.user_id)
    )
    return render(request, "signin/me.html", me_context(access))
