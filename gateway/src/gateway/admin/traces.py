"""Login traces: a table filterable by outcome, connection, user and time; a row opens the
attempt with the decoded claims, the reason in plain words and what to change at the IdP.
auth's ListLoginTraces, as ``/api/v1/login-traces``."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web
from google.protobuf import json_format

from gateway.admin.common import LOGIN_OUTCOMES, OUTCOME_BADGES
from gateway.admin.connections import list_connections
from gateway.admin.explain import explain
from gateway.admin.guard import Admin, require
from gateway.admin.layout import PAGE_SIZE, page_links, page_token, query_values, render_admin
from gateway.api.query import eq
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound

FILTERS: Final = ("outcome", "connection", "user", "since")
PERIODS: Final = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
OUTCOME_OPTIONS: Final = (("", "Any outcome"), *((o, o) for o in LOGIN_OUTCOMES.values()))
SINCE_OPTIONS: Final = (
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
)


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


async def _user_id(request: web.Request, admin: Admin, text: str) -> str | None:
    """The user a filter names (an id or a userName); None when none is called that."""
    if not text:
        return ""
    if found := _uuid(text):
        return found
    listed = await request.app[CLIENTS].directory.ListUsers(
        pb.ListUsersRequest(
            account_id=admin.account_id,
            filter=eq("user_name", text),
            page=pb.PageRequest(page_size=1),
        )
    )
    return listed.users[0].id if listed.users else None


async def traces(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "audit:read")
    chosen = query_values(request, FILTERS)
    found_connections = await list_connections(request, admin)
    names = {c.id: c.display_name or c.name for c in found_connections}
    user_id = await _user_id(request, admin, chosen["user"])
    rows: list[dict[str, Any]] = []
    next_token = ""
    error = ""
    if user_id is None:
        error = f"No user is called {chosen['user']}."
    else:
        listing = auth_pb2.ListLoginTracesRequest(
            account_id=admin.account_id,
            page_size=PAGE_SIZE,
            page_token=page_token(request),
            connection_id=_uuid(chosen["connection"]),
            outcome=chosen["outcome"] if chosen["outcome"] in LOGIN_OUTCOMES.values() else "",
            user_id=user_id,
        )
        if chosen["since"] in PERIODS:
            listing.not_before.FromDatetime(datetime.now(UTC) - PERIODS[chosen["since"]])
        listed = await request.app[CLIENTS].auth.ListLoginTraces(listing)
        next_token = listed.next_page_token
        rows = [
            {
                "id": t.id,
                "time": t.time,
                "outcome": LOGIN_OUTCOMES.get(t.outcome, "—"),
                "badge": OUTCOME_BADGES.get(LOGIN_OUTCOMES.get(t.outcome, ""), "neutral"),
                "reason": t.reason,
                "stage": t.stage,
                "connection": names.get(t.connection_id, "—"),
                "who": t.email or t.subject,
            }
            for t in listed.traces
        ]
    return render_admin(
        request,
        admin,
        "traces.html",
        nav="traces",
        title="Login traces",
        lead="One row per single sign-on attempt, newest first. Open one to see the claims.",
        error=error,
        rows=rows,
        filters=chosen,
        filtered=any(chosen.values()),
        outcome_options=OUTCOME_OPTIONS,
        since_options=SINCE_OPTIONS,
        connection_options=(("", "Any connection"), *names.items()),
        page=page_links(request, next_token, len(rows), "attempts"),
    )


async def trace(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "audit:read")
    trace_id = _uuid(request.match_info["trace"])
    if not trace_id:
        raise NotFound("no such trace")
    clients = request.app[CLIENTS]
    listed, found_connections = await asyncio.gather(
        clients.auth.ListLoginTraces(
            auth_pb2.ListLoginTracesRequest(account_id=admin.account_id, id=trace_id, page_size=1)
        ),
        list_connections(request, admin),
    )
    if not listed.traces:
        raise NotFound("no such trace")
    found = listed.traces[0]
    names = {c.id: c.display_name or c.name for c in found_connections}
    outcome = LOGIN_OUTCOMES.get(found.outcome, "—")
    return render_admin(
        request,
        admin,
        "trace.html",
        nav="traces",
        title=f"Sign-in attempt: {outcome}",
        crumbs=(("/admin/traces", "Login traces"),),
        trace=found,
        outcome=outcome,
        badge_kind=OUTCOME_BADGES.get(outcome, "neutral"),
        connection=names.get(found.connection_id, found.connection_id),
        explanation=explain(found.reason),
        claims=claim_rows(found),
        delta=f"{found.clock_delta_seconds:+.0f} s" if found.has_clock_delta else "—",
    )


def claim_rows(found: auth_pb2.LoginTrace) -> list[tuple[str, str]]:
    """The decoded claims, each value as text (lists and objects as JSON)."""
    claims = json_format.MessageToDict(found.claims)
    return [
        (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for name, value in sorted(claims.items())
    ]
