"""What a governance tool and a platform service hear: a space role granted by the client
credentials of a connector (ConductorOne, seed 004) is grant.created in the feed, and a SCIM
deactivation is user.deactivated, each within a second of the answer."""

from __future__ import annotations

import time

import aiohttp

from infra.dev.mesh import Mesh
from tests.e2e.api.credentials import obtain_bearer_token
from tests.e2e.events.feed import api_call, last_cursor, scim_create_user, watch
from tests.e2e.tenants import create_tenant

WITHIN_SECONDS = 1.0


async def test_a_governance_grant_and_a_scim_deactivation_reach_the_feed_within_a_second(
    events_mesh: Mesh,
) -> None:
    tenant = await create_tenant(events_mesh, permissions=("users:manage", "spaces:manage"))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        user_id = await scim_create_user(http, events_mesh, tenant.token)
        space = await api_call(
            http, events_mesh, tenant.token, "POST", "/spaces", 201, {"name": "production"}
        )
        connector = await obtain_bearer_token(events_mesh, tenant.account_id)
        roles = await api_call(http, events_mesh, connector, "GET", "/roles?scope=space", 200)
        developer = next(r for r in roles["items"] if r["name"] == "Space Developer")
        stream, channel = watch(
            events_mesh, tenant.account_id, await last_cursor(events_mesh, tenant.account_id)
        )
        try:
            granted_at = time.monotonic()
            grant = {"user_id": user_id, "space_id": space["id"], "role_id": developer["id"]}
            await api_call(http, events_mesh, connector, "POST", "/grants", 201, grant)
            event = await stream.read()
            assert time.monotonic() - granted_at < WITHIN_SECONDS
            assert event.type == "grant.created"
            assert event.resource["role_id"] == developer["id"]
            assert event.resource["source"] == "manual"

            deactivated_at = time.monotonic()
            async with http.patch(
                f"{events_mesh.gateway_url}/scim/v2/Users/{user_id}",
                headers=tenant.headers,
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                },
            ) as response:
                assert response.status == 200, await response.text()
            event = await stream.read()
            assert time.monotonic() - deactivated_at < WITHIN_SECONDS
            assert event.type == "user.deactivated"
            assert event.channel == "scim"
            assert event.resource["status"] == "deactivated"
        finally:
            stream.cancel()
            await channel.close()
