"""/api/v1/tokens and /api/v1/oauth-clients on the real auth service: secrets shown once,
revocation, rotation, and no escalation through tokens:manage."""

from __future__ import annotations

import base64

from tests.integration.gateway.api.stack import Tenant


async def test_an_api_token_is_created_listed_without_its_secret_and_revoked(
    tenant: Tenant,
) -> None:
    """The secret is in the 201 response only (stored hashed); the new token works until
    revoked, then it is 401."""
    created = await tenant.json(
        "POST", "/tokens", expect=201, json={"description": "Okta", "permissions": ["users:read"]}
    )
    secret = created["secret"]
    token_id = created["token"]["id"]
    assert created["token"]["permissions"] == ["users:read"]
    listed = await tenant.json("GET", "/tokens")
    assert token_id in [t["id"] for t in listed["items"]]
    assert secret not in str(listed)
    assert secret not in str(await tenant.json("GET", f"/tokens/{token_id}"))
    assert (await tenant.request("GET", "/users", token=secret)).status == 200
    revoked = await tenant.json("POST", f"/tokens/{token_id}:revoke")
    assert revoked["revoke_time"] is not None
    assert token_id not in [t["id"] for t in (await tenant.json("GET", "/tokens"))["items"]]


async def test_a_caller_cannot_give_a_credential_more_than_it_holds(tenant: Tenant) -> None:
    """tokens:manage is not a way to escalate: 403 (RFC 9457 problem) for a permission the
    caller lacks, for API tokens and OAuth clients alike."""
    limited = await tenant.token_with(["tokens:manage", "users:read"])
    for path in ("/tokens", "/oauth-clients"):
        response = await tenant.request(
            "POST", path, token=limited, json={"permissions": ["users:manage"]}
        )
        assert response.status == 403, path
    allowed = await tenant.request(
        "POST", "/oauth-clients", token=limited, json={"permissions": ["users:read"]}
    )
    assert allowed.status == 201


async def test_an_oauth_client_made_through_the_api_gets_tokens_until_revoked(
    tenant: Tenant,
) -> None:
    """Seed 004's setup: create, copy client id and secret, exchange them at the token
    endpoint named in the response; a rotated secret replaces the old one; revoked is gone."""
    created = await tenant.json(
        "POST",
        "/oauth-clients",
        expect=201,
        json={"description": "ConductorOne", "permissions": ["users:read", "grants:manage"]},
    )
    client_id = created["client"]["client_id"]
    assert created["token_endpoint"].endswith("/oauth/token")
    assert await tenant.json("GET", f"/oauth-clients/{client_id}") == created["client"]

    async def exchange(secret: str) -> int:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        response = await tenant.stack.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        return response.status

    assert await exchange(created["client_secret"]) == 200
    rotated = await tenant.json("POST", f"/oauth-clients/{client_id}:rotate-secret")
    assert rotated["client"]["rotate_time"] is not None
    assert await exchange(created["client_secret"]) == 401
    assert await exchange(rotated["client_secret"]) == 200
    await tenant.json("POST", f"/oauth-clients/{client_id}:revoke")
    assert await exchange(rotated["client_secret"]) == 401
    listed = await tenant.json("GET", "/oauth-clients")
    assert client_id not in [c["client_id"] for c in listed["items"]]
