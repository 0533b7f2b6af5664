"""The overview: the account at a glance. Connections and their health (last sign-in, last
failure, certificate expiry), SCIM (last request, errors in the last 24 hours, tokens and their
expiry), users by status, and what needs attention first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web
from google.protobuf import timestamp_pb2

from gateway.admin.common import PROVISIONING_OUTCOMES, USER_STATUSES
from gateway.admin.connections import domain_rows, health, list_connections
from gateway.admin.guard import Admin
from gateway.admin.layout import render_admin
from gateway.admin.setups import finished_setups
from gateway.api.query import all_of, eq
from gateway.auth import has_permission
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb

_TOKEN_WARNING: Final = timedelta(days=14)


def _since(moment: datetime) -> pb.Filter:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return pb.Filter(
        comparison=pb.Comparison(
            attribute="time",
            operator=pb.OPERATOR_GREATER_OR_EQUAL,
            value=pb.FilterValue(timestamp_value=stamp),
        )
    )


async def _user_counts(request: web.Request, admin: Admin) -> dict[str, int]:
    directory = request.app[CLIENTS].directory

    async def count(status: str) -> int:
        listed = await directory.ListUsers(
            pb.ListUsersRequest(
                account_id=admin.account_id,
                filter=eq("status", status),
                page=pb.PageRequest(page_size=1, include_total=True),
            )
        )
        return int(listed.page.total_size)

    statuses = list(USER_STATUSES.values())
    counts = await asyncio.gather(*(count(s) for s in statuses))
    return dict(zip(statuses, counts, strict=True))


async def _scim(request: web.Request, admin: Admin) -> dict[str, Any]:
    directory = request.app[CLIENTS].directory
    day_ago = datetime.now(UTC) - timedelta(days=1)
    newest, failing = await asyncio.gather(
        directory.ListProvisioningEvents(
            pb.ListProvisioningEventsRequest(
                account_id=admin.account_id,
                page=pb.PageRequest(
                    page_size=1, order_by="time", sort_order=pb.SORT_ORDER_DESCENDING
                ),
            )
        ),
        directory.ListProvisioningEvents(
            pb.ListProvisioningEventsRequest(
                account_id=admin.account_id,
                filter=all_of(
                    [
                        _since(day_ago),
                        pb.Filter(
                            comparison=pb.Comparison(
                                attribute="outcome",
                                operator=pb.OPERATOR_NOT_EQUAL,
                                value=pb.FilterValue(string_value="success"),
                            )
                        ),
                    ]
                ),
                page=pb.PageRequest(page_size=1, include_total=True),
            )
        ),
    )
    last = newest.events[0] if newest.events else None
    return {
        "last_time": last.time if last else timestamp_pb2.Timestamp(),
        "last_outcome": PROVISIONING_OUTCOMES.get(last.outcome, "") if last else "",
        "errors_24h": int(failing.page.total_size),
    }


async def overview(request: web.Request, admin: Admin) -> web.StreamResponse:
    def may(permission: str) -> bool:
        return has_permission(admin.permissions, permission)

    clients = request.app[CLIENTS]
    connections = await list_connections(request, admin) if may("connections:read") else []
    healths = await asyncio.gather(*(health(request, admin, c) for c in connections))
    users = await _user_counts(request, admin) if may("users:read") else None
    scim = await _scim(request, admin) if may("audit:read") else None
    tokens: list[auth_pb2.ApiToken] = []
    if may("tokens:manage"):
        listed = await clients.auth.ListApiTokens(
            auth_pb2.ListApiTokensRequest(account_id=admin.account_id, page_size=100)
        )
        tokens = list(listed.tokens)
    domains: list[dict[str, Any]] = []
    if may("connections:read"):
        found = await clients.directory.ListDomains(
            pb.ListDomainsRequest(account_id=admin.account_id, page=pb.PageRequest(page_size=200))
        )
        domains = domain_rows(list(found.domains))

    now = datetime.now(UTC)
    attention: list[tuple[str, str, str]] = []
    if may("connections:read") and not connections:
        attention.append(
            (
                "No connection yet: nobody can sign in with SSO.",
                "/admin/connections",
                "Add a connection",
            )
        )
    for connection, checked in zip(connections, healths, strict=True):
        name = connection.display_name or connection.name
        days = checked.certificate_days
        if days is not None and days < 30:
            attention.append(
                (
                    f"{name}: its signing certificate expires in {days} days.",
                    f"/admin/connections/{connection.id}",
                    "Open the connection",
                )
            )
        failed = (
            checked.last_failure.ToDatetime(tzinfo=UTC) if checked.last_failure.seconds else None
        )
        succeeded = (
            checked.last_success.ToDatetime(tzinfo=UTC) if checked.last_success.seconds else None
        )
        if (
            failed
            and failed > now - timedelta(days=1)
            and (succeeded is None or failed > succeeded)
        ):
            attention.append(
                (
                    f"{name}: the latest sign-in failed ({checked.last_failure_reason}).",
                    f"/admin/traces?connection={connection.id}&outcome=failure",
                    "See the traces",
                )
            )
    for domain in domains:
        if not domain["verified"]:
            attention.append(
                (
                    f"{domain['domain']} is not verified: sign-in does not trust its addresses.",
                    "/admin/connections#domains",
                    "Verify the domain",
                )
            )
    for token in tokens:
        if token.expire_time.seconds:
            expires = token.expire_time.ToDatetime(tzinfo=UTC)
            if expires - now < _TOKEN_WARNING:
                attention.append(
                    (
                        f"The token {token.description or token.id} expires on {expires:%Y-%m-%d}.",
                        "/admin/credentials",
                        "Create a new token",
                    )
                )
    if scim and scim["errors_24h"]:
        attention.append(
            (
                f"{scim['errors_24h']} SCIM requests failed in the last 24 hours.",
                "/admin/provisioning?outcome=rejected",
                "See the provisioning log",
            )
        )
    return render_admin(
        request,
        admin,
        "overview.html",
        nav="overview",
        title="Overview",
        lead="Your account at a glance.",
        connections=[
            {
                "id": c.id,
                "name": c.display_name or c.name,
                "protocol": (c.WhichOneof("protocol") or "").upper(),
                "enabled": c.enabled,
                "health": h,
            }
            for c, h in zip(connections, healths, strict=True)
        ],
        users=users,
        scim=scim,
        tokens=tokens,
        attention=attention,
        setups=await finished_setups(request, admin) if may("audit:read") else [],
    )
