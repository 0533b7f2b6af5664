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

import aiohttp
import asyncpg
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


async def _wait_consumed(mesh: Mesh, connection_id: str) -> None:
    """Until auth has consumed the connection's login transaction (read in PostgreSQL)."""
    conn = await asyncpg.connect(mesh.database_url)
    try:
        for _ in range(100):
            consumed = await conn.fetchval(
                "SELECT count(*) FROM auth.login_transactions"
                " WHERE connection_id = $1 AND consume_time IS NOT NULL",
                uuid.UUID(connection_id),
            )
            if consumed:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("auth never consumed the login transaction")


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
    """auth dies in the middle of a callback: it has consumed the transaction and waits for
    the IdP's token endpoint (the IdP is paused with SIGSTOP so that the kill lands exactly
    there). The browser gets the uniform 503 page, not a 500 and not a hang; nobody is
    provisioned; repeating that callback is refused (the transaction is single use, RFC 9700
    §4.7), and starting again signs the user in as one user with one identity link."""
    tenant = await _tenant(fault_mesh, oidc_provider)
    user = f"u{uuid.uuid4().hex[:8]}"
    prefix = f"{fault_mesh.gateway_url}/sso/oidc/"
    idp_pid = oidc_provider.pid
    assert idp_pid is not None
    async with browser() as session:
        authorization = await start_login(session, fault_mesh, tenant)
        callback = await sign_in_at_idp(session, authorization, prefix, login=user)
        os.kill(idp_pid, signal.SIGSTOP)
        try:
            delivery = asyncio.create_task(_deliver(session, callback))
            # auth consumes the state, then blocks on the paused token endpoint (10 s timeout).
            await _wait_consumed(fault_mesh, tenant.connection_id)
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
        assert status == 403, page
        assert REFUSED_TITLE in page
        assert not await _signed_in(fault_mesh, session)

        authorization = await start_login(session, fault_mesh, tenant)
        callback = await sign_in_at_idp(session, authorization, prefix, login=user)
        status, page, _ = await _deliver(session, callback)
        assert status == 303, page
        assert await _signed_in(fault_mesh, session)
    await _assert_one_user_with_one_link(fault_mesh, tenant.account_id)
