"""The provisioning log: every SCIM request, filterable by outcome, resource and token, naming
the user or group each one touched; a row opens the detail. directory's
ListProvisioningEvents, as ``/api/v1/provisioning-events``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Final

from aiohttp import web

from gateway.admin.common import OUTCOME_BADGES, PROVISIONING_OUTCOMES
from gateway.admin.guard import Admin, require
from gateway.admin.layout import PAGE_SIZE, page_links, page_token, query_values, render_admin
from gateway.api.query import all_of, any_of, eq
from gateway.auth import has_permission
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound

FILTERS: Final = ("outcome", "resource", "token")
OUTCOME_OPTIONS: Final = (
    ("", "Any outcome"),
    ("success", "success"),
    ("rejected", "rejected (4xx)"),
    ("failed", "failed (5xx)"),
)
RESOURCE_OPTIONS: Final = (("", "Any resource"), ("User", "Users"), ("Group", "Groups"))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def token_names(request: web.Request, admin: Admin) -> dict[str, str]:
    """Token id → description, revoked tokens included (the log outlives them)."""
    if not has_permission(admin.permissions, "tokens:manage"):
        return {}
    listed = await request.app[CLIENTS].auth.ListApiTokens(
        auth_pb2.ListApiTokensRequest(
            account_id=admin.account_id, page_size=200, include_revoked=True
        )
    )
    return {t.id: t.description or t.id[:8] for t in listed.tokens}


async def resource_names(
    request: web.Request, admin: Admin, events: list[pb.ProvisioningEvent]
) -> dict[str, str]:
    """The userName or group name of each resource the events touched (one lookup a kind)."""
    users = sorted({e.resource_id for e in events if e.resource_type == "User"})
    groups = sorted({e.resource_id for e in events if e.resource_type == "Group"})
    users = [u for u in users if _is_uuid(u)][:90]
    groups = [g for g in groups if _is_uuid(g)][:90]
    directory = request.app[CLIENTS].directory
    names: dict[str, str] = {}

    async def user_names() -> None:
        if users and has_permission(admin.permissions, "users:read"):
            found = await directory.ListUsers(
                pb.ListUsersRequest(
                    account_id=admin.account_id,
                    filter=any_of([eq("id", u) for u in users]),
                    page=pb.PageRequest(page_size=len(users)),
                )
            )
            names.update({u.id: u.user_name for u in found.users})

    async def group_names() -> None:
        if groups and has_permission(admin.permissions, "groups:read"):
            found = await directory.ListGroups(
                pb.ListGroupsRequest(
                    account_id=admin.account_id,
                    filter=any_of([eq("id", g) for g in groups]),
                    page=pb.PageRequest(page_size=len(groups)),
                )
            )
            names.update({g.id: g.display_name for g in found.groups})

    await asyncio.gather(user_names(), group_names())
    return names


def _row(
    event: pb.ProvisioningEvent, names: dict[str, str], tokens: dict[str, str]
) -> dict[str, Any]:
    outcome = PROVISIONING_OUTCOMES.get(event.outcome, "—")
    kind = event.resource_type
    href = ""
    if event.resource_id in names:
        href = f"/admin/{'users' if kind == 'User' else 'groups'}/{event.resource_id}"
    return {
        "id": event.id,
        "time": event.time,
        "request": f"{event.method} {event.operation}",
        "resource_type": kind or "—",
        "resource": names.get(event.resource_id, ""),
        "resource_id": event.resource_id,
        "href": href,
        "outcome": outcome,
        "badge": OUTCOME_BADGES.get(outcome, "neutral"),
        "status": event.http_status,
        "token": tokens.get(event.token_id, event.token_id[:8] if event.token_id else "—"),
        "detail": event.detail,
        "duration_ms": event.duration.ToMicroseconds() / 1000,
        "trace_id": event.trace_id,
    }


async def provisioning(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "audit:read")
    chosen = query_values(request, FILTERS)
    parts = []
    if chosen["outcome"] in PROVISIONING_OUTCOMES.values():
        parts.append(eq("outcome", chosen["outcome"]))
    if chosen["resource"] in ("User", "Group"):
        parts.append(eq("resource_type", chosen["resource"]))
    if chosen["token"]:
        parts.append(eq("token_id", chosen["token"]))
    listed, tokens = await asyncio.gather(
        request.app[CLIENTS].directory.ListProvisioningEvents(
            pb.ListProvisioningEventsRequest(
                account_id=admin.account_id,
                filter=all_of(parts),
                page=pb.PageRequest(
                    page_size=PAGE_SIZE,
                    page_token=page_token(request),
                    order_by="time",
                    sort_order=pb.SORT_ORDER_DESCENDING,
                ),
            )
        ),
        token_names(request, admin),
    )
    events = list(listed.events)
    names = await resource_names(request, admin, events)
    return render_admin(
        request,
        admin,
        "provisioning.html",
        nav="provisioning",
        title="Provisioning log",
        lead="Every SCIM request of your IdPs, newest first: never the values sent.",
        rows=[_row(e, names, tokens) for e in events],
        filters=chosen,
        filtered=any(chosen.values()),
        outcome_options=OUTCOME_OPTIONS,
        resource_options=RESOURCE_OPTIONS,
        token_options=(("", "Any token"), *sorted(tokens.items(), key=lambda t: t[1])),
        page=page_links(request, listed.page.next_page_token, len(events), "requests"),
    )


async def provisioning_event(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "audit:read")
    event_id = request.match_info["event"]
    if not _is_uuid(event_id):
        raise NotFound("no such event")
    listed = await request.app[CLIENTS].directory.ListProvisioningEvents(
        pb.ListProvisioningEventsRequest(
            account_id=admin.account_id, filter=eq("id", event_id), page=pb.PageRequest(page_size=1)
        )
    )
    if not listed.events:
        raise NotFound("no such event")
    event = listed.events[0]
    names, tokens = await asyncio.gather(
        resource_names(request, admin, [event]), token_names(request, admin)
    )
    row = _row(event, names, tokens)
    return render_admin(
        request,
        admin,
        "provisioning_event.html",
        nav="provisioning",
        title=f"SCIM request: {row['request']}",
        crumbs=(("/admin/provisioning", "Provisioning log"),),
        event=row,
    )
