"""The client-credentials grant end to end in process: a client made through auth, POST
/oauth/token on the production gateway, the JWT used on /api/v1 (RFC 6749 §4.4, §5.1, §5.2;
RFC 7517 for the published keys; the ConductorOne connector's client id and secret, seed 004)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote_plus

import grpc
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.oauth.limits import TOKEN_RATE_LIMIT, TokenEndpointLimits
from idmesh.auth.v1 import auth_pb2
from tests.integration.gateway.api.stack import Stack, Tenant

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def new_client(tenant: Tenant, permissions: list[str]) -> tuple[str, str]:
    created = await tenant.stack.auth.CreateOAuthClient(
        auth_pb2.CreateOAuthClientRequest(
            account_id=tenant.id, description="ConductorOne", permissions=permissions
        )
    )
    return created.client.id, created.client_secret


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode(), **FORM}


async def token_request(stack: Stack, data: dict[str, str], headers: dict[str, str]) -> Any:
    response = await stack.client.post("/oauth/token", data=data, headers=headers)
    return response, await response.json()


async def test_client_secret_basic_gets_a_bearer_token_that_calls_the_api(tenant: Tenant) -> None:
    """RFC 6749 §4.4.2/§4.4.3 with client_secret_basic (§2.3.1): a Bearer JWT, expires_in, the
    scope granted, no-store (§5.1); the token reads users of its own account."""
    client_id, secret = await new_client(tenant, ["users:read", "roles:read"])
    response, body = await token_request(
        tenant.stack, {"grant_type": "client_credentials"}, basic(client_id, secret)
    )
    assert response.status == 200, body
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "roles:read users:read"
    user = await tenant.user()
    listed = await tenant.json("GET", "/users", token=body["access_token"])
    assert [item["id"] for item in listed["items"]] == [user.id]
    denied = await tenant.request("POST", "/spaces", token=body["access_token"], json={})
    assert denied.status == 403


async def test_client_secret_post_and_a_narrowing_scope_are_honoured(tenant: Tenant) -> None:
    """client_secret_post (§2.3.1) and §3.3 scope: the token carries only what was asked, and
    ``x:manage`` lets a client ask for ``x:read``."""
    client_id, secret = await new_client(tenant, ["users:manage", "audit:read"])
    response, body = await token_request(
        tenant.stack,
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "users:read",
        },
        FORM,
    )
    assert response.status == 200, body
    assert body["scope"] == "users:read"
    claims = jwt.decode(body["access_token"], await published_keys(tenant.stack)).claims
    assert claims["scope"] == "users:read"
    assert claims["client_id"] == client_id
    assert claims["account_id"] == tenant.id
    # The gateway's PUBLIC_URL is both the issuer and the audience (gateway.app).
    assert claims["iss"] == claims["aud"]
    assert claims["iss"].startswith("http://127.0.0.1")
    assert claims["exp"] - claims["iat"] == 600
    audit = await tenant.request("GET", "/audit-events", token=body["access_token"])
    assert audit.status == 403


async def published_keys(stack: Stack) -> KeySet:
    response = await stack.client.get("/.well-known/jwks.json")
    assert response.status == 200
    assert response.content_type == "application/jwk-set+json"
    return KeySet.import_key_set(json.loads(await response.text()))


async def test_the_published_key_set_holds_public_keys_only(stack: Stack) -> None:
    """RFC 7517 §5 / RFC 7518 §6.2.2: a JWK set of signing keys without private members."""
    response = await stack.client.get("/.well-known/jwks.json")
    keys = json.loads(await response.text())["keys"]
    assert keys
    for key in keys:
        assert key["use"] == "sig"
        assert key["alg"] in ("ES256", "RS256")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


async def test_a_wrong_secret_is_invalid_client_with_a_basic_challenge(tenant: Tenant) -> None:
    """RFC 6749 §5.2: failed client authentication is 401 invalid_client, with a
    WWW-Authenticate challenge when the client used the Authorization header."""
    client_id, secret = await new_client(tenant, ["users:read"])
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    response, body = await token_request(
        tenant.stack, {"grant_type": "client_credentials"}, basic(client_id, wrong)
    )
    assert response.status == 401
    assert body["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["Cache-Control"] == "no-store"
    assert secret not in json.dumps(body)


async def test_a_revoked_or_rotated_secret_no_longer_gets_tokens(tenant: Tenant) -> None:
    """Rotation replaces the secret at once; revocation ends the client (same §5.2 answer)."""
    client_id, secret = await new_client(tenant, ["users:read"])
    rotated = await tenant.stack.auth.RotateOAuthClientSecret(
        auth_pb2.RotateOAuthClientSecretRequest(account_id=tenant.id, client_id=client_id)
    )
    old, _ = await token_request(
        tenant.stack, {"grant_type": "client_credentials"}, basic(client_id, secret)
    )
    assert old.status == 401
    new, _ = await token_request(
        tenant.stack,
        {"grant_type": "client_credentials"},
        basic(client_id, rotated.client_secret),
    )
    assert new.status == 200
    await tenant.stack.auth.RevokeOAuthClient(
        auth_pb2.RevokeOAuthClientRequest(account_id=tenant.id, client_id=client_id)
    )
    revoked, body = await token_request(
        tenant.stack,
        {"grant_type": "client_credentials"},
        basic(client_id, rotated.client_secret),
    )
    assert revoked.status == 401
    assert body["error"] == "invalid_client"


async def test_another_accounts_client_cannot_be_revoked(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """Tenant isolation: a client of another account is NOT_FOUND, as a missing one."""
    client_id, _ = await new_client(other_tenant, ["users:read"])
    listed = await tenant.stack.auth.ListOAuthClients(
        auth_pb2.ListOAuthClientsRequest(account_id=tenant.id)
    )
    assert client_id not in [c.id for c in listed.clients]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tenant.stack.auth.RevokeOAuthClient(
            auth_pb2.RevokeOAuthClientRequest(account_id=tenant.id, client_id=client_id)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_scope_the_client_lacks_is_invalid_scope(tenant: Tenant) -> None:
    """RFC 6749 §5.2 invalid_scope: a client cannot widen its own permissions."""
    client_id, secret = await new_client(tenant, ["users:read"])
    response, body = await token_request(
        tenant.stack,
        {"grant_type": "client_credentials", "scope": "users:manage"},
        basic(client_id, secret),
    )
    assert response.status == 400
    assert body["error"] == "invalid_scope"


async def test_malformed_requests_get_the_rfc_6749_error_codes(tenant: Tenant) -> None:
    """RFC 6749 §5.2: unsupported_grant_type for another grant, invalid_request for a
    repeated parameter (§3.2), for two authentication methods at once (§2.3) and a non-form
    body; invalid_client with no credentials at all."""
    client_id, secret = await new_client(tenant, ["users:read"])
    stack = tenant.stack
    response, body = await token_request(
        stack, {"grant_type": "password"}, basic(client_id, secret)
    )
    assert (response.status, body["error"]) == (400, "unsupported_grant_type")
    repeated = await stack.client.post(
        "/oauth/token",
        data="grant_type=client_credentials&grant_type=client_credentials",
        headers=basic(client_id, secret),
    )
    assert (repeated.status, (await repeated.json())["error"]) == (400, "invalid_request")
    response, body = await token_request(
        stack,
        {"grant_type": "client_credentials", "client_secret": secret},
        basic(client_id, secret),
    )
    assert (response.status, body["error"]) == (400, "invalid_request")
    as_json = await stack.client.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert (as_json.status, (await as_json.json())["error"]) == (400, "invalid_request")
    response, body = await token_request(stack, {"grant_type": "client_credentials"}, FORM)
    assert (response.status, body["error"]) == (401, "invalid_client")


async def test_a_tampered_or_foreign_jwt_is_an_invalid_token(tenant: Tenant) -> None:
    """RFC 6750 §3.1 invalid_token for a JWT whose signature does not verify, and for an
    unsigned one (alg none, RFC 8725 §3.1)."""
    client_id, secret = await new_client(tenant, ["users:read"])
    _, body = await token_request(
        tenant.stack, {"grant_type": "client_credentials"}, basic(client_id, secret)
    )
    header, payload, signature = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "users:manage"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for token in (
        f"{header}.{forged}.{signature}",
        base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').decode().rstrip("=")
        + f".{forged}.",
    ):
        response = await tenant.request("GET", "/users", token=token)
        assert response.status == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@contextmanager
def token_limits(tenant: Tenant, rate: float, burst: int) -> Iterator[None]:
    """The session gateway's token-endpoint limits replaced by ``rate`` and ``burst`` on a
    clock that never moves (a burst is a burst however slowly a loaded machine sends it); its
    own limits are back afterwards."""
    app = tenant.stack.client.app
    assert app is not None
    limits = app[TOKEN_RATE_LIMIT]
    kept = limits.per_client, limits.per_account
    frozen = TokenEndpointLimits.in_process(rate=rate, burst=burst, clock=lambda: 0.0)
    limits.per_client, limits.per_account = frozen.per_client, frozen.per_account
    try:
        yield
    finally:
        limits.per_client, limits.per_account = kept


@pytest.fixture
def frozen_token_limits(tenant: Tenant) -> Iterator[None]:
    """The default limits (50/s, bursts of 100), frozen."""
    with token_limits(tenant, rate=50.0, burst=100):
        yield


@pytest.mark.usefixtures("frozen_token_limits")
async def test_the_token_endpoint_answers_429_with_retry_after_past_its_rate(
    tenant: Tenant,
) -> None:
    """A runaway client is slowed with 429 and Retry-After (RFC 6585 §4, RFC 9110 §10.2.3),
    after a burst well above 25 requests a second; another client is unaffected."""
    client_id, _ = await new_client(tenant, ["users:read"])
    statuses = []
    retry_after = None
    for _ in range(130):
        response = await tenant.stack.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=basic(client_id, "idmcs_" + "x" * 43),
        )
        statuses.append(response.status)
        if response.status == 429:
            retry_after = response.headers["Retry-After"]
            break
    assert statuses.count(401) >= 50
    assert statuses[-1] == 429
    assert retry_after is not None
    assert int(retry_after) >= 1
    other_id, other_secret = await new_client(tenant, ["users:read"])
    response, _ = await token_request(
        tenant.stack, {"grant_type": "client_credentials"}, basic(other_id, other_secret)
    )
    assert response.status == 200
