"""Setup links on the console: create one for a customer's IT admin (its URL shown once, with a
copy button), see whether it was opened or finished, revoke it. auth's setup link RPCs, as
``/api/v1/setup-links``; creating and revoking are in the audit log as the admin's doing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import grpc
from aiohttp import web

from gateway import setup_audit
from gateway.admin.common import not_found_for_bad_ids
from gateway.admin.guard import Admin, check_csrf, require
from gateway.admin.layout import render_admin
from gateway.api.setup_links import SETUP_PATH, link_status
from gateway.auth import has_permission
from gateway.forms import read_form
from gateway.pages.html import redirect
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2

EXPIRY_OPTIONS: Final = (("7", "In 7 days"), ("1", "In a day"), ("30", "In 30 days"))
NOTES: Final = {"revoked": "The setup link was revoked: it opens nothing more."}


async def _page(
    request: web.Request, admin: Admin, *, note: str = "", url: str = "", error: str = "",
    status: int = 200,
) -> web.Response:  # fmt: skip
    listed = await request.app[CLIENTS].auth.ListSetupLinks(
        auth_pb2.ListSetupLinksRequest(account_id=admin.account_id, include_inactive=True)
    )
    now = datetime.now(UTC)
    links = [{"link": link, "status": link_status(link, now)} for link in listed.links]
    return render_admin(
        request, admin, "setup_links.html", nav="setup-links", title="Setup links",
        lead="A link lets your customer's IT admin connect their identity provider themselves.",
        links=links, url=url, note=note, error=error, expiry_options=EXPIRY_OPTIONS,
        may_scim=has_permission(admin.permissions, "tokens:manage"), status=status,
    )  # fmt: skip


async def setup_links(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "connections:manage")
    return await _page(request, admin, note=NOTES.get(request.query.get("note", ""), ""))


async def create(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    sso, scim, domains = (form.get(name) == "1" for name in ("sso", "scim", "domains"))
    if scim:
        require(admin, "tokens:manage")  # the link issues a SCIM token
    if not (sso or scim or domains):
        return await _page(request, admin, error="Choose what the link may set up.", status=400)
    days = form.get("expires_in_days")
    lifetime = timedelta(days=int(days) if days in {d for d, _ in EXPIRY_OPTIONS} else 7)
    expire = datetime.now(UTC) + lifetime
    request_ = auth_pb2.CreateSetupLinkRequest(
        account_id=admin.account_id, sso=sso, scim=scim, domains=domains,
        created_by=f"admin pages ({admin.user_name})",
    )  # fmt: skip
    request_.expire_time.FromDatetime(expire)
    created = await request.app[CLIENTS].auth.CreateSetupLink(request_)
    link = created.link
    await setup_audit.record(
        request.app[CLIENTS].directory, admin.account_id, admin.actor(), "setup_link.created",
        "setup_link", link.id, {"sso": link.sso, "scim": link.scim, "domains": link.domains},
    )  # fmt: skip
    url = request.app[CONFIG].public_url + SETUP_PATH + created.secret
    return await _page(request, admin, url=url)


async def revoke(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    try:
        revoked = await request.app[CLIENTS].auth.RevokeSetupLink(
            auth_pb2.RevokeSetupLinkRequest(
                account_id=admin.account_id, link_id=request.match_info["link"]
            )
        )
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None
    await setup_audit.record(
        request.app[CLIENTS].directory, admin.account_id, admin.actor(), "setup_link.revoked",
        "setup_link", revoked.link.id,
    )  # fmt: skip
    return redirect("/admin/setup-links?note=revoked")
