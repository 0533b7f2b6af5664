"""The account's email domains on the connections page: claim one (the TXT record to publish is
then listed), verify it (a DNS lookup now), remove it. directory's domain RPCs, as
``/api/v1/domains``; a connection serves only verified domains."""

from __future__ import annotations

import grpc
from aiohttp import web

from gateway.admin.common import form_error, not_found_for_bad_ids
from gateway.admin.connections import connections_page
from gateway.admin.guard import Admin, check_csrf, require
from gateway.forms import read_form
from gateway.pages.html import redirect
from gateway.state import CLIENTS
from idmesh.directory.v1 import directory_pb2 as pb


async def claim_domain(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    domain = str(form.get("domain", "")).strip().lower()[:253]
    if not domain:
        return await connections_page(
            request,
            admin,
            values={"domain": domain},
            errors={"domain": "Enter a domain, e.g. example.com."},
            status=400,
        )
    try:
        await request.app[CLIENTS].directory.ClaimDomain(
            pb.ClaimDomainRequest(account_id=admin.account_id, domain=domain, actor=admin.actor())
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, {"domain": "domain"})
        errors = {"domain": next(iter(errors.values()))}
        return await connections_page(
            request, admin, values={"domain": domain}, errors=errors, status=status
        )
    return redirect("/admin/connections?note=claimed#domains")


async def verify_domain(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    try:
        await request.app[CLIENTS].directory.VerifyDomain(
            pb.VerifyDomainRequest(
                account_id=admin.account_id,
                domain_id=request.match_info["domain"],
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is not grpc.StatusCode.FAILED_PRECONDITION:
            raise not_found_for_bad_ids(error) from None
        # Not found in DNS: the domain's row shows the check's error.
        return redirect("/admin/connections#domains")
    return redirect("/admin/connections?note=verified#domains")


async def remove_domain(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    try:
        await request.app[CLIENTS].directory.DeleteDomain(
            pb.DeleteDomainRequest(
                account_id=admin.account_id,
                domain_id=request.match_info["domain"],
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None
    return redirect("/admin/connections?note=domain_removed#domains")
