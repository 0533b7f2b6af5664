"""API credentials with two replicas of every service: what one replica revokes or signs, the
other honours.

- An API token revoked through one gateway is refused by the other within the documented
  delay: the gateway's TOKEN_CACHE_TTL plus auth's API_TOKEN_CACHE_TTL (README,
  "Configuration": "a revoked token stops working within the sum of the two"); the test waits
  exactly that sum.
- An access token signed by either auth replica verifies on both gateways; both publish the
  same JWK set; a rotated signing key (auth.oauth.signing: put the new key first in the file
  of the Secret) is signed with and accepted by every replica.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.channels import connect
from tests.e2e.api.credentials import create_oauth_client
from tests.e2e.replicas.conftest import (
    API_TOKEN_CACHE_SECONDS,
    TOKEN_CACHE_SECONDS,
    rotate_signing_keys,
)
from tests.e2e.replicas.replicas import Replicas
from tests.e2e.replicas.routing import via
from tests.e2e.tenants import SECRET_PATTERN, create_account, create_token, unique_name

pytestmark = pytest.mark.e2e

FIRST, SECOND = 0, 1
# auth re-reads the key file at most every 10 s (SigningKeys.reload_interval); a gateway
# fetches keys for an unknown kid at most every 10 s (gateway.oauth.keys.MIN_REFETCH).
ROTATION_SEEN_WITHIN = 25.0


async def _list_users(replicas: Replicas, replica: int, bearer: str) -> int:
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            via(replicas, replica, "/api/v1/users"),
            headers={"Authorization": f"Bearer {bearer}"},
        ) as response,
    ):
        return response.status


async def test_an_api_token_revoked_via_one_gateway_is_refused_on_the_other_within_the_cache_ttls(
    replicas: Replicas,
) -> None:
    """Both gateways (and whichever auth replicas they asked) have just verified and cached
    the token; it is revoked through the first gateway's API; after TOKEN_CACHE_TTL +
    API_TOKEN_CACHE_TTL, and no longer, both refuse it."""
    account_id = await create_account(replicas, unique_name("revoke"))
    admin = await create_token(replicas, account_id, ["tokens:manage"])
    victim = await create_token(replicas, account_id, ["users:read"])
    assert [await _list_users(replicas, r, victim) for r in (FIRST, SECOND)] == [200, 200]

    match = SECRET_PATTERN.fullmatch(victim)
    assert match is not None
    token_id = match.group("token_id")
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            via(replicas, FIRST, f"/api/v1/tokens/{token_id}:revoke"),
            headers={"Authorization": f"Bearer {admin}"},
        ) as revoked,
    ):
        assert revoked.status == 200, await revoked.text()

    await asyncio.sleep(TOKEN_CACHE_SECONDS + API_TOKEN_CACHE_SECONDS)
    assert [await _list_users(replicas, r, victim) for r in (SECOND, FIRST)] == [401, 401]


# -- access tokens (OAuth client credentials) ---------------------------------------------------


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def _issue_at(replicas: Replicas, replica: int, client_id: str, secret: str) -> str:
    """An access token signed by auth replica ``replica`` itself (asked directly, as the
    gateway's token endpoint would through its round-robin channel)."""
    async with connect(replicas.meshes[replica].address("auth")) as channel:
        issued = await auth_pb2_grpc.AuthServiceStub(channel).IssueAccessToken(
            auth_pb2.IssueAccessTokenRequest(
                client_id=client_id,
                client_secret=secret,
                issuer=replicas.gateway_url,
                audience=replicas.gateway_url,
            )
        )
    return issued.access_token


async def _jwks(replicas: Replicas, replica: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as client,
        client.get(via(replicas, replica, "/.well-known/jwks.json")) as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json(content_type=None)
        return body


async def _oauth_client(replicas: Replicas) -> tuple[str, str]:
    account_id = await create_account(replicas, unique_name("oauth"))
    return await create_oauth_client(replicas, account_id, ["users:read"])


async def test_an_access_token_signed_by_either_auth_replica_verifies_on_both_gateways(
    replicas: Replicas,
) -> None:
    """Every auth replica signs with the key of the shared Secret (auth.oauth.signing), so a
    gateway accepts a token whichever replica signed it, whichever replica it fetched the
    public keys from."""
    client_id, secret = await _oauth_client(replicas)
    for signer in (FIRST, SECOND):
        token = await _issue_at(replicas, signer, client_id, secret)
        assert _kid(token) == "k1"
        assert [await _list_users(replicas, r, token) for r in (FIRST, SECOND)] == [200, 200]


async def test_both_gateways_publish_the_same_jwk_set(replicas: Replicas) -> None:
    """RFC 7517 §5: /.well-known/jwks.json is the same document on every replica."""
    first, second = await _jwks(replicas, FIRST), await _jwks(replicas, SECOND)
    assert first == second
    assert [key["kid"] for key in first["keys"]] == ["k1"]


async def test_a_rotated_signing_key_is_signed_with_and_accepted_by_every_replica(
    replicas: Replicas, signing_keys_file: Path
) -> None:
    """Rotation as auth.oauth.signing documents it: the new key first in the Secret's file,
    the old one after it. Every auth replica picks it up without a restart and signs with it;
    both gateways fetch it on the first token naming it and accept the tokens of both keys;
    their JWK sets stay identical."""
    client_id, secret = await _oauth_client(replicas)
    old_token = await _issue_at(replicas, FIRST, client_id, secret)
    rotate_signing_keys(signing_keys_file, "k2")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + ROTATION_SEEN_WITHIN
    new_tokens: dict[int, str] = {}
    while len(new_tokens) < 2:
        for signer in (FIRST, SECOND):
            token = await _issue_at(replicas, signer, client_id, secret)
            if _kid(token) == "k2":
                new_tokens[signer] = token
        assert loop.time() < deadline, f"auth replicas {set(new_tokens)} of 2 sign with k2"
        await asyncio.sleep(0.5)

    for gateway in (FIRST, SECOND):
        while await _list_users(replicas, gateway, new_tokens[FIRST]) != 200:
            assert loop.time() < deadline, f"gateway {gateway + 1} never accepted k2"
            await asyncio.sleep(0.5)
        assert await _list_users(replicas, gateway, new_tokens[SECOND]) == 200
        assert await _list_users(replicas, gateway, old_token) == 200
    first, second = await _jwks(replicas, FIRST), await _jwks(replicas, SECOND)
    assert first == second
    assert [key["kid"] for key in first["keys"]] == ["k2", "k1"]
