"""Tokens and OAuth clients: API tokens (for SCIM clients and scripts) and OAuth clients (the
client-credentials grant of governance tools): create (the secret shown once, with a copy
button), expiry, last use, revoke. auth's credential RPCs, as ``/api/v1/tokens`` and
``/api/v1/oauth-clients``; a credential gets only permissions the admin holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import grpc
from aiohttp import web

from gateway.admin.common import form_error, not_found_for_bad_ids
from gateway.admin.guard import Admin, check_csrf, require
from gateway.admin.layout import PAGE_SIZE, page_links, render_admin
from gateway.api import ROUTES
from gateway.auth import has_permission
from gateway.forms import read_form
from gateway.pages.html import redirect
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2

PERMISSIONS: Final = tuple(sorted({r.permission for r in ROUTES if r.permission}))
EXPIRY_OPTIONS: Final = (
    ("", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
)
NOTES: Final = {"revoked": "The credential was revoked: it no longer works."}


async def credentials(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "tokens:manage")
    note = NOTES.get(request.query.get("note", ""), "")
    return await _page(request, admin, note=note)


async def _page(
    request: web.Request,
    admin: Admin,
    *,
    note: str = "",
    created: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    auth = request.app[CLIENTS].auth
    tokens, clients = await asyncio.gather(
        auth.ListApiTokens(
            auth_pb2.ListApiTokensRequest(
                account_id=admin.account_id,
                page_size=PAGE_SIZE,
                page_token=request.query.get("page_token", "")[:512],
            )
        ),
        auth.ListOAuthClients(
            auth_pb2.ListOAuthClientsRequest(account_id=admin.account_id, page_size=100)
        ),
    )
    errors = errors or {}
    return render_admin(
        request,
        admin,
        "credentials.html",
        nav="credentials",
        title="Tokens and clients",
        lead="API tokens for SCIM provisioning and scripts; OAuth clients for governance tools.",
        note=note,
        error="Not created: see the form." if errors else "",
        tokens=list(tokens.tokens),
        clients=list(clients.clients),
        page=page_links(request, tokens.next_page_token, len(tokens.tokens), "tokens"),
        permissions=[p for p in PERMISSIONS if has_permission(admin.permissions, p)],
        expiry_options=EXPIRY_OPTIONS,
        created=created,
        values=values or {},
        errors=errors,
        token_url=f"{request.app[CONFIG].public_url}/oauth/token",
        status=status,
    )


def _chosen(admin: Admin, form: Any) -> list[str]:
    return [
        p for p in PERMISSIONS if form.get(f"perm_{p}") and has_permission(admin.permissions, p)
    ]


async def create(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Creates an API token or an OAuth client (the form's ``kind``); the secret is in this
    response only."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "tokens:manage")
    kind = "client" if form.get("kind") == "client" else "token"
    description = str(form.get("description", "")).strip()[:200]
    permissions = _chosen(admin, form)
    values: dict[str, Any] = {
        "kind": kind,
        "description": description,
        "expiry": str(form.get("expiry", "")),
        "permissions": permissions,
    }
    errors = {}
    if not description:
        errors["description"] = "Describe what will use it, e.g. Entra provisioning."
    if not permissions:
        errors["permissions"] = "Choose at least one permission."
    if errors:
        return await _page(request, admin, values=values, errors=errors, status=400)
    auth = request.app[CLIENTS].auth
    created_by = f"admin console ({admin.user_name})"
    try:
        if kind == "client":
            made = await auth.CreateOAuthClient(
                auth_pb2.CreateOAuthClientRequest(
                    account_id=admin.account_id,
                    description=description,
                    permissions=permissions,
                    created_by=created_by,
                )
            )
            created = {
                "kind": "OAuth client",
                "id": made.client.id,
                "secret": made.client_secret,
            }
        else:
            token_request = auth_pb2.CreateApiTokenRequest(
                account_id=admin.account_id,
                description=description,
                permissions=permissions,
                created_by=created_by,
            )
            if values["expiry"].isdigit():
                token_request.expire_time.FromDatetime(
                    datetime.now(UTC) + timedelta(days=int(values["expiry"]))
                )
            made_token = await auth.CreateApiToken(token_request)
            created = {"kind": "API token", "id": made_token.token.id, "secret": made_token.secret}
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, {"description": "description"})
        return await _page(request, admin, values=values, errors=errors, status=status)
    return await _page(
        request,
        admin,
        note=f"The {created['kind']} was created. Copy its secret now: it is never shown again.",
        created=created,
        status=201,
    )


async def revoke(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "tokens:manage")
    kind = request.match_info["kind"]
    credential = request.match_info["id"]
    auth = request.app[CLIENTS].auth
    try:
        if kind == "clients":
            await auth.RevokeOAuthClient(
                auth_pb2.RevokeOAuthClientRequest(account_id=admin.account_id, client_id=credential)
            )
        else:
            await auth.RevokeApiToken(
                auth_pb2.RevokeApiTokenRequest(account_id=admin.account_id, token_id=credential)
            )
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None
    return redirect("/admin/credentials?note=revoked")
