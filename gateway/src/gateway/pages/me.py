"""``/me``: who is signed in: profile, spaces and roles (with where each comes from), groups.

The session is validated by auth on every request (which also asks directory whether the user
is still active), so a deactivated or deleted user's page answers "sign in" at once.
"""

from __future__ import annotations

import grpc
from aiohttp import web

from gateway.pages.html import esc, items, page, redirect
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


def _grant(role: directory_pb2.RoleGrant) -> str:
    source = _SOURCES.get(role.source, "")
    if role.source == directory_pb2.MEMBERSHIP_SOURCE_GROUP and role.group_name:
        source = f"group {role.group_name}"
    return f"{esc(role.role_name)} <small>({esc(source)})</small>"


def render_me(access: directory_pb2.GetUserAccessResponse) -> str:
    user = access.user
    name = user.display_name or " ".join(
        p for p in (user.name.given_name, user.name.family_name) if p
    )
    profile = (
        "<dl>\n"
        f"<dt>Name</dt><dd>{esc(name or '-')}</dd>\n"
        f"<dt>User name</dt><dd>{esc(user.user_name)}</dd>\n"
        f"<dt>Time zone</dt><dd>{esc(user.timezone or '-')}</dd>\n"
        f"<dt>Account role</dt><dd>{esc(user.account_role_name or '-')}</dd>\n"
        f"<dt>Status</dt><dd>{esc(_STATUSES.get(user.status, '-'))}</dd>\n"
        "</dl>"
    )
    if access.spaces:
        rows = "".join(
            f"<tr><td>{esc(space.space_name)}</td>"
            f"<td>{'<br>'.join(_grant(role) for role in space.roles)}</td></tr>"
            for space in access.spaces
        )
        spaces = (
            '<table><caption class="visually-hidden">Your spaces</caption>'
            '<thead><tr><th scope="col">Space</th><th scope="col">Roles</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        spaces = "<p>You are in no space yet.</p>"
    if access.groups:
        groups = "<ul>" + items(esc(group.display_name) for group in access.groups) + "</ul>"
    else:
        groups = "<p>You are in no group.</p>"
    return (
        f"<h2>Profile</h2>\n{profile}\n<h2>Spaces and roles</h2>\n{spaces}\n"
        f"<h2>Groups</h2>\n{groups}\n"
        '<form method="post" action="/logout"><button type="submit">Sign out</button></form>'
    )


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
    return page("Your account", render_me(access))
