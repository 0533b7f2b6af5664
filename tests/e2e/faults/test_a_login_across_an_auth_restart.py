"""An OIDC login in flight when auth crashes (issue "Under load, faults and hostile input it
keeps working and loses nothing"), with the OpenID-certified oidc-provider as the IdP.

What the design guarantees (docs/architecture.md, auth owns "login transaction ... single use,
short-lived" in PostgreSQL): a login transaction outlives the auth process that made it, so a
callback delivered after a restart completes the login; a callback that reaches no auth is the
uniform "temporarily unavailable" page and consumes nothing; a transaction is consumed by the
first callback auth processes, so a callback cut off inside auth is refused when repeated, and
the user starts again. Never a 500, never a half-provisioned or second user."""

from __future__ import annotations

import asyncio
import html
import os
import signal
import uuid
from pathlib import Path

import aiohttp
import pytest

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.faults.scim_load import stored_users
from tests.e2e.oidc.helpers import OidcTenant, browser, make_tenant_factory, start_login
from tests.idps.oidc.provider import OidcProvider, sign_in_at_idp

pytestmark = pytest.mark.e2e

UNAVAILABLE_TITLE = "Sign-in is temporarily unavailable"
REFUSED_TITLE = "We couldn't sign you in"


async def _tenant(mesh: Mesh, provider: OidcProvider) -> OidcTenant:
    return await make_tenant_factory(mesh, provider)()


async def _deliver(session: aiohttp.ClientSession, callback: str) -> tuple[int, str, str | None]:
    """The IdP's redirect to the callback, as the browser follows it: status, page, Retry-After."""
    async with session.get(callback, allow_redirects=False) as response:
        page = html.unescape(await response.text())
        return response.status, page, response.headers.get("Retry-After")


async def _signed_in(mesh: Mesh, session: aiohttp.ClientSession) -> bool:
    async with session.get(f"{mesh.gateway_url}/me", allow_redirects=False) as page:
        return page.status == 200


async def _links(mesh: Mesh, account_id: str, user_id: str) -> int:
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        listed = await stub.ListIdentityLinks(
            directory_pb2.ListIdentityLinksRequest(account_id=account_id, user_id=user_id)
        )
    return len(listed.links)


def _queued_bytes(port: int) -> int:
    """Bytes waiting in the receive queues of TCP sockets bound to 127.0.0.1:``port``
    (/proc/net/tcp: local address, then tx_queue:rx_queue in hex)."""
    waiting = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        host, _, local_port = fields[1].partition(":")
        if host == "0100007F" and int(local_port, 16) == port:
            waiting += int(fields[4].partition(":")[2], 16)
    return waiting


async def _wait_for_token_request(idp_port: int) -> None:
    """Until auth's token request has reached the paused IdP: auth is inside the callback,
    its pending login verified but not used up (only a verified answer consumes it)."""
    for _ in range(200):
        if _queued_bytes(idp_port):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("auth never sent its token request")


async def _assert_one_user_with_one_link(mesh: Mesh, account_id: str) -> None:
    """The account (fresh, one person signing in) holds one user, linked once to the IdP."""
    users = await stored_users(mesh, account_id)
    assert len(users) == 1, [user.user_name for user in users]
    assert await _links(mesh, account_id, users[0].id) == 1


async def test_a_callback_during_an_auth_outage_is_503_and_completes_after_the_restart(
    fault_mesh: Mesh, oidc_provider: OidcProvider
) -> None:
    """The login transaction lives in PostgreSQL, not in the auth process: a callback that
    finds auth dead is the uniform 503 page with Retry-After (RFC 9110 §10.2.3) and consumes
    nothing, nobody is provisioned, and the same callback after the restart signs the user in
    (RFC 9700 §4.7: the state is still single use, so a third delivery is refused)."""
    tenant = await _tenant(fault_mesh, oidc_provider)
    user = f"u{uuid.uuid4().hex[:8]}"
    tenant.provider.ensure_email(user, tenant.domain)
    prefix = f"{fault_mesh.gateway_url}/sso/oidc/"
    async with browser() as session:
        authorization = await start_login(session, fault_mesh, tenant)
        callback = await sign_in_at_idp(session, authorization, prefix, login=user)
        await fault_mesh.kill("auth")
        try:
            status, page, retry_after = await _deliver(session, callback)
        finally:
            await fault_mesh.restart("auth")
        assert status == 503, page
        assert UNAVAILABLE_TITLE in page
        assert retry_after is not None
        assert await stored_users(fault_mesh, tenant.account_id) == []

        status, page, _ = await _deliver(session, callback)
        assert status == 303, page
        assert await _signed_in(fault_mesh, session)
        status, page, _ = await _deliver(session, callback)
        assert status == 403
        assert REFUSED_TITLE in page
    await _assert_one_user_with_one_link(fault_mesh, tenant.account_id)


async def test_auth_killed_inside_a_callback_provisions_nobody_and_the_user_signs_in_again(
    fault_mesh: Mesh, oidc_provider: OidcProvider
) -> None:
    """auth dies in the middle of a callback, waiting for the IdP's token endpoint (the IdP is
    paused with SIGSTOP so that the kill lands exactly there). The browser gets the uniform
    503 page, not a 500 and not a hang; nobody is provisioned, and the pending login is left
    as it was (only a verified answer consumes it). Repeating that callback after the restart
    either completes or, once the IdP has spent the code (RFC 6749 §4.1.2), is refused; either
    way starting again signs the user in as one user with one identity link."""
    tenant = await _tenant(fault_mesh, oidc_provider)
    user = f"u{uuid.uuid4().hex[:8]}"
    tenant.provider.ensure_email(user, tenant.domain)
    prefix = f"{fault_mesh.gateway_url}/sso/oidc/"
    idp_pid = oidc_provider.pid
    assert idp_pid is not None
    async with browser() as session:
        authorization = await start_login(session, fault_mesh, tenant)
        callback = await sign_in_at_idp(session, authorization, prefix, login=user)
        os.kill(idp_pid, signal.SIGSTOP)
        try:
            delivery = asyncio.create_task(_deliver(session, callback))
            # auth checks the state, then blocks on the paused token endpoint (10 s timeout).
            await _wait_for_token_request(oidc_provider.port)
            assert not delivery.done(), delivery.result()
            await fault_mesh.kill("auth")
            status, page, retry_after = await asyncio.wait_for(delivery, 25)
        finally:
            os.kill(idp_pid, signal.SIGCONT)
            await fault_mesh.restart("auth")
        assert status == 503, page
        assert UNAVAILABLE_TITLE in page
        assert retry_after is not None
        assert await stored_users(fault_mesh, tenant.account_id) == []

        status, page, _ = await _deliver(session, callback)
        assert status in (303, 403), page
        assert (REFUSED_TITLE in page) is (status == 403)
        assert await _signed_in(fault_mesh, session) is (status == 303)

        authorization = await start_login(session, fault_mesh, tenant)
        callback = await sign_in_at_idp(session, authorization, prefix, login=user)
        status, page, _ = await _deliver(session, callback)
        assert status == 303, page
        assert await _signed_in(fault_mesh, session)
    await _assert_one_user_with_one_link(fault_mesh, tenant.account_id)
