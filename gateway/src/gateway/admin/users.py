"""Users: a paged, searchable table and each user's page (profile, identity links, spaces and
roles with their source, groups, recent sign-ins and provisioning events), with deactivate and
reactivate. The directory's ListUsers, GetUserAccess and UpdateUser, as ``/api/v1/users``."""

from __future__ import annotations

import asyncio
from typing import Final

import grpc
from aiohttp import web

from gateway.admin.common import (
    LOGIN_OUTCOMES,
    PROVISIONING_OUTCOMES,
    SOURCES,
    STATUS_BADGES,
    USER_STATUSES,
    not_found_for_bad_ids,
    user_name,
    user_source,
)
from gateway.admin.guard import Admin, check_csrf, require
from gateway.admin.layout import PAGE_SIZE, page_links, page_token, query_values, render_admin
from gateway.api.query import all_of, any_of, eq
from gateway.auth import has_permission
from gateway.forms import read_form
from gateway.pages.html import redirect
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb

FILTERS: Final = ("q", "status")
_SEARCHED: Final = ("user_name", "display_name", "name.given_name", "name.family_name")
STATUS_OPTIONS: Final = (
    ("", "Any status"),
    ("active", "Active"),
    ("pending", "Pending (never signed in)"),
    ("deactivated", "Deactivated"),
)


def _contains(attribute: str, text: str) -> pb.Filter:
    return pb.Filter(
        comparison=pb.Comparison(
            attribute=attribute,
            operator=pb.OPERATOR_CONTAINS,
            value=pb.FilterValue(string_value=text),
        )
    )


def search_filter(q: str, status: str) -> pb.Filter | None:
    """userName or name containing ``q``, and the status."""
    parts = []
    if q:
        parts.append(any_of([_contains(a, q) for a in _SEARCHED]))
    if status in USER_STATUSES.values():
        parts.append(eq("status", status))
    return all_of(parts)


async def users(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "users:read")
    chosen = query_values(request, FILTERS)
    listed = await request.app[CLIENTS].directory.ListUsers(
        pb.ListUsersRequest(
            account_id=admin.account_id,
            filter=search_filter(chosen["q"], chosen["status"]),
            page=pb.PageRequest(
                page_size=PAGE_SIZE, page_token=page_token(request), order_by="user_name"
            ),
        )
    )
    rows = [
        {
            "id": u.id,
            "user_name": u.user_name,
            "name": user_name(u),
            "status": USER_STATUSES.get(u.status, "—"),
            "badge": STATUS_BADGES.get(USER_STATUSES.get(u.status, ""), "neutral"),
            "source": user_source(u),
            "last_login": u.last_login_time,
        }
        for u in listed.users
    ]
    return render_admin(
        request,
        admin,
        "users.html",
        nav="users",
        title="Users",
        lead="Everyone your IdPs provisioned or signed in. Pending: provisioned, never signed in.",
        rows=rows,
        filters=chosen,
        status_options=STATUS_OPTIONS,
        page=page_links(request, listed.page.next_page_token, len(rows), "users"),
        filtered=any(chosen.values()),
    )


async def _user(request: web.Request, admin: Admin) -> pb.GetUserAccessResponse:
    try:
        return await request.app[CLIENTS].directory.GetUserAccess(
            pb.GetUserAccessRequest(account_id=admin.account_id, user_id=request.match_info["user"])
        )
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None


async def user(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "users:read")
    access = await _user(request, admin)
    found = access.user
    clients = request.app[CLIENTS]
    links, traces, events = await asyncio.gather(
        clients.directory.ListIdentityLinks(
            pb.ListIdentityLinksRequest(
                account_id=admin.account_id, user_id=found.id, page=pb.PageRequest(page_size=20)
            )
        ),
        _recent_traces(request, admin, found.id),
        _recent_events(request, admin, found.id),
    )
    connections = await _connection_names(request, admin)
    spaces = [
        {
            "name": space.space_name,
            "roles": [
                {
                    "name": r.role_name,
                    "source": SOURCES.get(r.source, "—"),
                    "group": r.group_name,
                }
                for r in space.roles
            ],
        }
        for space in access.spaces
    ]
    status = USER_STATUSES.get(found.status, "—")
    notes = {"deactivated": "The user is deactivated.", "reactivated": "The user is active again."}
    return render_admin(
        request,
        admin,
        "user.html",
        nav="users",
        title=found.user_name,
        crumbs=(("/admin/users", "Users"),),
        note=notes.get(request.query.get("note", ""), ""),
        user=found,
        name=user_name(found),
        user_status=status,
        badge_kind=STATUS_BADGES.get(status, "neutral"),
        source=user_source(found),
        account_role=access.account_role.name or found.account_role_name,
        emails=[e.value for e in found.emails],
        links=[
            {
                "connection": connections.get(link.connection_id, link.connection_id),
                "subject": link.subject,
                "created": link.create_time,
                "last_login": link.last_login_time,
            }
            for link in links.links
        ],
        spaces=spaces,
        groups=[{"id": g.id, "name": g.display_name} for g in access.groups],
        traces=[
            {
                "id": t.id,
                "time": t.time,
                "outcome": LOGIN_OUTCOMES.get(t.outcome, "—"),
                "reason": t.reason,
                "connection": connections.get(t.connection_id, "—"),
            }
            for t in traces
        ],
        events=[
            {
                "id": e.id,
                "time": e.time,
                "request": f"{e.method} {e.operation}",
                "outcome": PROVISIONING_OUTCOMES.get(e.outcome, "—"),
                "status": e.http_status,
            }
            for e in events
        ],
        can_manage=_may(admin, "users:manage"),
    )


async def _connection_names(request: web.Request, admin: Admin) -> dict[str, str]:
    if not _may(admin, "connections:read"):
        return {}
    listed = await request.app[CLIENTS].auth.ListConnections(
        auth_pb2.ListConnectionsRequest(account_id=admin.account_id, page_size=100)
    )
    return {c.id: c.display_name or c.name for c in listed.connections}


async def _recent_traces(
    request: web.Request, admin: Admin, user_id: str
) -> list[auth_pb2.LoginTrace]:
    if not _may(admin, "audit:read"):
        return []
    listed = await request.app[CLIENTS].auth.ListLoginTraces(
        auth_pb2.ListLoginTracesRequest(account_id=admin.account_id, user_id=user_id, page_size=10)
    )
    return list(listed.traces)


async def _recent_events(
    request: web.Request, admin: Admin, user_id: str
) -> list[pb.ProvisioningEvent]:
    if not _may(admin, "audit:read"):
        return []
    listed = await request.app[CLIENTS].directory.ListProvisioningEvents(
        pb.ListProvisioningEventsRequest(
            account_id=admin.account_id,
            filter=eq("resource_id", user_id),
            page=pb.PageRequest(page_size=10, order_by="time", sort_order=pb.SORT_ORDER_DESCENDING),
        )
    )
    return list(listed.events)


def _may(admin: Admin, permission: str) -> bool:
    return has_permission(admin.permissions, permission)


async def set_active(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Deactivates or reactivates (the form's ``active``) with the version it was shown at,
    as ``POST /api/v1/users/{id}:deactivate`` does."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "users:manage")
    current = (await _user(request, admin)).user
    active = form.get("active") == "true"
    if current.active != active:
        changed = pb.User()
        changed.CopyFrom(current)
        changed.active = active
        await request.app[CLIENTS].directory.UpdateUser(
            pb.UpdateUserRequest(
                user=changed, expected_version=current.version, actor=admin.actor()
            )
        )
    note = "reactivated" if active else "deactivated"
    return redirect(f"/admin/users/{current.id}?note={note}")
