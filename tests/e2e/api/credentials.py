"""How a governance tool (ConductorOne's connector, seed 004) gets its bearer token: the
account's admin creates an OAuth client ("Carefully copy and save the key's client ID and
client secret"), the tool exchanges them at the gateway's token endpoint for a short-lived
access token (RFC 6749 §4.4, client_secret_basic) and speaks to the API with it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from urllib.parse import quote_plus

import aiohttp

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.channels import connect
from tests.e2e.tenants import MeshAccess

# What the connector does: read users and roles, read, grant and revoke space roles.
GOVERNANCE_PERMISSIONS: tuple[str, ...] = (
    "users:read",
    "roles:read",
    "spaces:read",
    "grants:manage",
)


async def create_oauth_client(
    mesh: MeshAccess, account_id: str, permissions: Sequence[str]
) -> tuple[str, str]:
    """An OAuth client of ``account_id`` made through auth's gRPC API: (client id, secret)."""
    async with connect(mesh.address("auth")) as channel:
        created = await auth_pb2_grpc.AuthServiceStub(channel).CreateOAuthClient(
            auth_pb2.CreateOAuthClientRequest(
                account_id=account_id,
                description="ConductorOne connector",
                permissions=list(permissions),
                created_by="e2e",
            )
        )
    return created.client.id, created.client_secret


async def obtain_bearer_token(
    mesh: MeshAccess, account_id: str, permissions: Sequence[str] = GOVERNANCE_PERMISSIONS
) -> str:
    """A bearer token of ``account_id`` for the governance connector, from POST /oauth/token."""
    client_id, secret = await create_oauth_client(mesh, account_id, permissions)
    basic = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.post(
            f"{mesh.gateway_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        ) as response,
    ):
        body = await response.json()
        assert response.status == 200, body
        assert body["token_type"] == "Bearer"
        return str(body["access_token"])
