"""The wizard's domains step: the IT admin adds the email domains their users sign in with, sees
the TXT record to publish for each, and the page checks DNS until every one is verified (the
login-trust verification: directory's ClaimDomain and VerifyDomain, audited as the link's)."""

from __future__ import annotations

from typing import Any

import grpc
from aiohttp import web

from gateway.pages.html import redirect, secure
from gateway.setup.session import Setup, refusal, setup_view
from gateway.setup.state import account_domains
from idmesh.directory.v1 import directory_pb2 as pb


def domain_json(domain: pb.Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "domain": domain.domain,
        "verified": domain.status == pb.DOMAIN_STATUS_VERIFIED,
        "error": domain.last_check_error,
    }


async def _page(setup: Setup, *, error: str = "", status: int = 200) -> web.Response:
    domains = await account_domains(setup)
    return setup.page(
        "setup/domains.html", "domains", "Your email domains", status=status,
        domains=domains, verified=pb.DOMAIN_STATUS_VERIFIED, error=error,
        all_verified=bool(domains) and all(d.status == pb.DOMAIN_STATUS_VERIFIED
                                           for d in domains),
        value=setup.text("domain") if error else "",
    )  # fmt: skip


@setup_view("domains")
async def domains(setup: Setup) -> web.StreamResponse:
    return await _page(setup)


@setup_view("domains")
async def add_domain(setup: Setup) -> web.StreamResponse:
    try:
        await setup.clients.directory.ClaimDomain(
            pb.ClaimDomainRequest(
                account_id=setup.account_id, domain=setup.text("domain"), actor=setup.actor
            )
        )
    except grpc.aio.AioRpcError as error:
        message = refusal(error)
        if message is None:
            raise
        return await _page(setup, error=message, status=400)
    return redirect("/setup/domains")


@setup_view("domains")
async def check_domains(setup: Setup) -> web.StreamResponse:
    """Looks every pending domain up in DNS now (the page polls this while any is pending)."""
    for domain in await account_domains(setup):
        if domain.status == pb.DOMAIN_STATUS_VERIFIED:
            continue
        try:
            await setup.clients.directory.VerifyDomain(
                pb.VerifyDomainRequest(
                    account_id=setup.account_id, domain_id=domain.id, actor=setup.actor
                )
            )
        except grpc.aio.AioRpcError as error:
            if refusal(error) is None:
                raise  # not found yet is FAILED_PRECONDITION, recorded on the domain
    if "application/json" not in setup.request.headers.get("Accept", ""):
        return redirect("/setup/domains")
    listed = [domain_json(d) for d in await account_domains(setup)]
    body = {"domains": listed, "all_verified": bool(listed) and all(d["verified"] for d in listed)}
    return secure(web.json_response(body))
