"""Bearer-token authentication of /api/v1 (RFC 6750) through auth.VerifyApiToken, and tenant
isolation of GET /api/v1/accounts/{name}."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import authenticate
from gateway.errors import PROBLEM_CONTENT_TYPE
from gateway.state import CLIENTS
from tests.support.gateway_peers import (
    ACME_AUDITOR_SECRET,
    ACME_ID,
    ACME_SECRET,
    GLOBEX_SECRET,
    FakeMesh,
    GatewayFactory,
    unused_address,
)

CHALLENGE = 'Bearer realm="idmesh"'


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _manage_users(request: web.Request) -> web.Response:
    """A route requiring users:manage, as the admin API's user routes will."""
    principal = await authenticate(request, request.app[CLIENTS], "users:manage")
    return web.json_response({"account_id": principal.account_id})


def _users_route(app: web.Application) -> None:
    app.router.add_get("/test/users", _manage_users)


async def test_a_valid_token_reads_its_own_account(gateway: GatewayFactory) -> None:
    """The demo admin route: any valid token of the account reads {id, name, display_name}."""
    async with gateway() as client:
        response = await client.get("/api/v1/accounts/acme", headers=_bearer(ACME_SECRET))
        assert response.status == 200
        assert await response.json() == {
            "id": ACME_ID,
            "name": "acme",
            "display_name": "Acme Corp",
        }


async def test_no_credentials_is_401_with_a_bearer_challenge(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """RFC 6750 §3: 401 with WWW-Authenticate: Bearer realm="idmesh", no error code."""
    async with gateway() as client:
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            response = await client.get("/api/v1/accounts/acme", headers=headers)
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == CHALLENGE
            assert response.content_type == PROBLEM_CONTENT_TYPE


async def test_an_unknown_token_is_401_invalid_token(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """RFC 6750 §3.1 invalid_token; the secret is never echoed."""
    forged = "idm_" + "f" * 32 + "_" + "F" * 43
    async with gateway() as client:
        response = await client.get("/api/v1/accounts/acme", headers=_bearer(forged))
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == f'{CHALLENGE}, error="invalid_token"'
        assert forged not in await response.text()
    assert mesh.auth.verified_secrets[-1] == forged


async def test_a_malformed_token_is_refused_without_asking_auth(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """Garbage never reaches auth: it is not a b64token (RFC 6750 §2.1)."""
    before = len(mesh.auth.verified_secrets)
    async with gateway() as client:
        response = await client.get(
            "/api/v1/accounts/acme", headers={"Authorization": 'Bearer a"b'}
        )
        assert response.status == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert len(mesh.auth.verified_secrets) == before


async def test_a_token_without_the_permission_is_403(gateway: GatewayFactory) -> None:
    """authenticate(..., permission): a verified token lacking it is 403 naming the permission."""
    async with gateway(setup=_users_route) as client:
        denied = await client.get("/test/users", headers=_bearer(ACME_AUDITOR_SECRET))
        assert denied.status == 403
        assert "users:manage" in (await denied.json())["detail"]
        allowed = await client.get("/test/users", headers=_bearer(ACME_SECRET))
        assert allowed.status == 200


async def test_another_accounts_name_is_404_like_an_unknown_one(gateway: GatewayFactory) -> None:
    """Tenant isolation: a token cannot learn that another account exists (404, not 403), and
    both answers are identical but for the name asked."""
    async with gateway() as client:
        other = await client.get("/api/v1/accounts/acme", headers=_bearer(GLOBEX_SECRET))
        unknown = await client.get("/api/v1/accounts/initech", headers=_bearer(GLOBEX_SECRET))
        assert other.status == unknown.status == 404
        other_body, unknown_body = await other.json(), await unknown.json()
        assert other_body["detail"] == "account 'acme' not found"
        assert unknown_body["detail"] == "account 'initech' not found"
        assert other_body.keys() == unknown_body.keys()
        assert "Acme" not in await other.text()


async def test_unauthenticated_callers_learn_nothing_about_accounts(
    gateway: GatewayFactory,
) -> None:
    """Authentication comes before the lookup: 401 for a known and an unknown name alike."""
    async with gateway() as client:
        for name in ("acme", "initech"):
            assert (await client.get(f"/api/v1/accounts/{name}")).status == 401


async def test_auth_being_down_is_503_not_401(gateway: GatewayFactory) -> None:
    """A valid token must not be told it is invalid because auth cannot be reached."""
    async with gateway(auth=unused_address()) as client:
        response = await client.get("/api/v1/accounts/acme", headers=_bearer(ACME_SECRET))
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"


async def test_a_token_verified_moments_ago_is_not_verified_again(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """gateway.token_cache: within TOKEN_CACHE_TTL a busy client costs no auth call per request."""
    mesh.auth.verified_secrets.clear()
    async with gateway(token_cache_ttl="5s") as client:
        for _ in range(3):
            response = await client.get("/api/v1/accounts/acme", headers=_bearer(ACME_SECRET))
            assert response.status == 200
    assert mesh.auth.verified_secrets == [ACME_SECRET]


async def test_a_refused_token_is_asked_about_again_every_time(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """Only verified tokens are cached: a refusal is never remembered as a success."""
    mesh.auth.verified_secrets.clear()
    bad = "idm_" + "f" * 32 + "_" + "F" * 43
    async with gateway(token_cache_ttl="5s") as client:
        for _ in range(2):
            response = await client.get("/api/v1/accounts/acme", headers=_bearer(bad))
            assert response.status == 401
    assert mesh.auth.verified_secrets == [bad, bad]
