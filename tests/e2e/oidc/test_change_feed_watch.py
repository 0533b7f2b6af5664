"""WatchEvents through the real processes: a consumer sees every change made by SCIM, SSO
logins and the admin API, once each and in order, across the switch from backlog to live
changes while all three keep writing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp

from infra.dev.mesh import Mesh
from tests.e2e.events.feed import api_call, last_cursor, scim_create_user, watch
from tests.e2e.oidc.helpers import OidcTenantFactory, browser, fresh_user, login
from tests.e2e.tenants import create_token

PERMISSIONS = ("users:manage", "groups:manage", "connections:manage")


async def test_a_watcher_sees_scim_sso_and_admin_changes_once_in_order_across_the_switch(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """Issue 15: cursors 1..n exactly (no gap, no duplicate) from a stream opened after some
    changes and kept open while SCIM, SSO logins and the admin API write concurrently."""
    tenant = await oidc_tenant()
    token = await create_token(sso_mesh, tenant.account_id, PERMISSIONS)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def scim(count: int) -> None:
            for _ in range(count):
                await scim_create_user(http, sso_mesh, token)

        async def admin(count: int) -> None:
            for _ in range(count):
                name = f"team-{uuid.uuid4().hex[:8]}"
                await api_call(
                    http, sso_mesh, token, "POST", "/groups", 201, {"display_name": name}
                )

        async def sso(count: int) -> None:
            for _ in range(count):
                async with browser() as session:
                    response = await login(session, sso_mesh, tenant, fresh_user())
                    assert response.status == 303

        await asyncio.gather(scim(5), admin(5), sso(1))  # the backlog
        stream, channel = watch(sso_mesh, tenant.account_id)
        seen: list[Any] = []

        async def read() -> None:
            async for event in stream:
                seen.append(event)

        reading = asyncio.create_task(read())
        try:
            await asyncio.gather(scim(15), admin(10), sso(3))
            last = await last_cursor(sso_mesh, tenant.account_id)
            for _ in range(100):
                if seen and seen[-1].cursor >= last:
                    break
                await asyncio.sleep(0.1)
        finally:
            stream.cancel()
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            await channel.close()

    assert [e.cursor for e in seen] == list(range(1, len(seen) + 1))
    assert len({e.id for e in seen}) == len(seen)
    channels = {e.channel for e in seen}
    assert {"scim", "sso", "admin_api"} <= channels, channels
    types = [e.type for e in seen]
    assert types.count("group.created") == 15
    assert sum(1 for e in seen if e.type == "user.created" and e.channel == "scim") == 20
    assert sum(1 for e in seen if e.type == "user.created" and e.channel == "sso") == 4
    # The operator verified the tenant's domain, then connected the IdP: auth reports its
    # connections to the feed.
    assert types[:3] == ["domain.claimed", "domain.verified", "connection.created"], types[:3]


async def test_a_connection_disabled_through_the_api_is_connection_disabled_in_the_feed(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """Connections live in auth; auth records their changes in the directory's feed."""
    tenant = await oidc_tenant()
    token = await create_token(sso_mesh, tenant.account_id, PERMISSIONS)
    after = await last_cursor(sso_mesh, tenant.account_id)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        path = f"/connections/{tenant.connection_id}"
        await api_call(http, sso_mesh, token, "PATCH", path, 200, {"enabled": False})
    stream, channel = watch(sso_mesh, tenant.account_id, after)
    try:
        event = await stream.read()
    finally:
        stream.cancel()
        await channel.close()
    assert event.type == "connection.disabled"
    assert event.resource["id"] == tenant.connection_id
    assert event.resource["enabled"] is False
    assert "client_secret" not in str(event.resource)
