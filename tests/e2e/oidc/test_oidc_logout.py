"""Sign-out end to end against the OpenID-certified oidc-provider with its rpInitiatedLogout and
backchannelLogout features (tests/idps/oidc/server.mjs): the real gateway, auth and directory
processes on 127.0.0.1, a browser-like client, and the IdP posting logout tokens to idmesh."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from idmesh.auth.v1 import auth_pb2
from infra.dev.mesh import Mesh
from tests.e2e.oidc.helpers import (
    OidcTenant,
    OidcTenantFactory,
    browser,
    fresh_user,
    login,
    login_traces,
)
from tests.e2e.tenants import create_token
from tests.idps.oidc.provider import OidcProvider, sign_out_at_idp

pytestmark = pytest.mark.e2e

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


async def _me_status(mesh: Mesh, session: aiohttp.ClientSession) -> tuple[int, str]:
    async with session.get(f"{mesh.gateway_url}/me", allow_redirects=False) as page:
        return page.status, page.headers.get("Location", "")


async def _logout_traces(mesh: Mesh, tenant: OidcTenant) -> list[auth_pb2.LoginTrace]:
    return [t for t in await login_traces(mesh, tenant.account_id) if t.kind == "logout"]


async def _signed_in(mesh: Mesh, tenant: OidcTenant, user: str) -> aiohttp.ClientSession:
    session = browser()
    response = await login(session, mesh, tenant, user)
    assert response.status == 303, response.headers
    assert (await _me_status(mesh, session))[0] == 200
    return session


async def test_sign_out_ends_the_idp_session_too_and_comes_back_to_the_signed_out_page(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """RP-Initiated Logout 1.0 §2-3: /logout ends idmesh's session, then sends the browser to
    the discovered end_session_endpoint with id_token_hint, client_id, the registered
    post_logout_redirect_uri and state; the IdP sends it back there, to "signed out"."""
    tenant = await oidc_tenant()
    async with await _signed_in(sso_mesh, tenant, fresh_user()) as session:
        async with session.post(f"{sso_mesh.gateway_url}/logout", allow_redirects=False) as out:
            assert out.status == 303
            end_session = out.headers["Location"]
        assert end_session.startswith(f"{tenant.provider.issuer}/session/end?")
        query = parse_qs(urlsplit(end_session).query)
        assert query["client_id"] == [tenant.client.client_id]
        assert query["post_logout_redirect_uri"] == [
            f"{sso_mesh.gateway_url}/sso/oidc/{tenant.connection_id}/signed-out"
        ]
        assert query["id_token_hint"][0].count(".") == 2
        assert query["state"][0]
        # idmesh's session ended before the browser even left.
        assert (await _me_status(sso_mesh, session)) == (303, "/login?return_to=/me")
        back = await sign_out_at_idp(session, end_session)
        assert back.startswith(query["post_logout_redirect_uri"][0])
        assert parse_qs(urlsplit(back).query)["state"] == query["state"]
        async with session.get(back) as page:
            assert page.status == 200
            assert "You have signed out" in await page.text()
    # Oldest first: the sign-out here, then the IdP's back-channel token for the same session
    # (it had already ended).
    sign_out, backchannel = reversed(await _logout_traces(sso_mesh, tenant))
    assert sign_out.outcome == backchannel.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert "end_session_endpoint" in sign_out.detail
    assert "ended 0 session" in backchannel.detail


async def test_a_connection_without_rp_initiated_logout_signs_out_here_only(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """--no-rp-logout: /logout ends idmesh's session and shows "signed out" here; the browser
    is not sent to the IdP."""
    tenant = await oidc_tenant("--no-rp-logout")
    async with await _signed_in(sso_mesh, tenant, fresh_user()) as session:
        async with session.post(f"{sso_mesh.gateway_url}/logout", allow_redirects=False) as out:
            assert out.status == 303
            assert out.headers["Location"] == "/login?signed_out=1"
        assert (await _me_status(sso_mesh, session)) == (303, "/login?return_to=/me")
    (trace, *_) = await _logout_traces(sso_mesh, tenant)
    assert "takes no logout request" in trace.detail


async def test_an_idp_side_logout_posts_a_logout_token_that_ends_the_session(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """Back-Channel Logout 1.0 §2.5: the user signs out at the IdP (not through idmesh); the
    IdP posts a logout token naming sid and sub to the registered back-channel logout URI;
    the next request to /me is sent to sign in."""
    tenant = await oidc_tenant()
    async with await _signed_in(sso_mesh, tenant, fresh_user()) as session:
        await sign_out_at_idp(session, f"{tenant.provider.issuer}/session/end")
        assert (await _me_status(sso_mesh, session)) == (303, "/login?return_to=/me")
    (trace, *_) = await _logout_traces(sso_mesh, tenant)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert "ended 1 session" in trace.detail
    assert trace.claims["events"] == {BACKCHANNEL_EVENT: {}}


def _idp_key(provider: OidcProvider) -> RSAKey:
    """The provider's published signing key k1 (its keys file holds the private JWKs)."""
    keys = json.loads(provider.keys_file.read_text())["keys"]
    return RSAKey.import_key(next(k for k in keys if k["kid"] == "k1"))


def _logout_token(key: RSAKey, claims: dict[str, Any], kid: str = "k1") -> str:
    header = {"alg": "RS256", "kid": kid, "typ": "logout+jwt"}
    return jwt.encode(header, claims, key)


def _claims(tenant: OidcTenant, user: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tenant.provider.issuer,
        "aud": tenant.client.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sub": user,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def _post_token(mesh: Mesh, tenant: OidcTenant, token: str) -> tuple[int, dict[str, Any]]:
    url = f"{mesh.gateway_url}/sso/oidc/{tenant.connection_id}/backchannel-logout"
    async with (
        aiohttp.ClientSession() as idp,
        idp.post(url, data={"logout_token": token}) as response,
    ):
        body = await response.json() if response.status != 200 else {}
        assert response.headers["Cache-Control"] == "no-store"
        return response.status, body


async def test_bad_logout_tokens_are_each_refused_with_the_reason_in_the_trace(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """Back-Channel Logout 1.0 §2.6 and §2.8: a forged (unknown key), replayed (jti seen),
    expired, wrong-audience, nonce-carrying or event-less logout token is answered 400 with
    error=invalid_request, ends nothing, and leaves a logout trace naming the reason."""
    tenant = await oidc_tenant()
    user = fresh_user()
    key = _idp_key(tenant.provider)
    forged_key = RSAKey.generate_key(2048)
    replayed = _logout_token(key, _claims(tenant, fresh_user()))
    assert (await _post_token(sso_mesh, tenant, replayed))[0] == 200
    cases = {
        "invalid_signature": _logout_token(forged_key, _claims(tenant, user)),
        "replayed": replayed,
        "expired": _logout_token(
            key, _claims(tenant, user, iat=int(time.time()) - 3600, exp=int(time.time()) - 3000)
        ),
        "aud_mismatch": _logout_token(key, _claims(tenant, user, aud="someone-else")),
        "nonce_present": _logout_token(key, _claims(tenant, user, nonce="n-0S6_WzA2Mj")),
        "events_missing": _logout_token(key, _claims(tenant, user, events=None)),
    }
    async with await _signed_in(sso_mesh, tenant, user) as session:
        for reason, token in cases.items():
            status, body = await _post_token(sso_mesh, tenant, token)
            assert status == 400, reason
            assert body["error"] == "invalid_request", reason
            (trace, *_) = await _logout_traces(sso_mesh, tenant)
            assert trace.outcome == auth_pb2.LOGIN_OUTCOME_FAILURE
            assert trace.reason == reason
        # None of them ended the session; a valid token for this user does.
        assert (await _me_status(sso_mesh, session))[0] == 200
        status, _ = await _post_token(sso_mesh, tenant, _logout_token(key, _claims(tenant, user)))
        assert status == 200
        assert (await _me_status(sso_mesh, session)) == (303, "/login?return_to=/me")


async def _api(mesh: Mesh, token: str, method: str, path: str, expect: int = 200) -> Any:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as api,
        api.request(method, f"{mesh.gateway_url}/api/v1{path}") as response,
    ):
        text = await response.text()
        assert response.status == expect, text
        return json.loads(text) if text else None


async def _seconds_until_signed_out(mesh: Mesh, session: aiohttp.ClientSession) -> float:
    started = time.perf_counter()
    while (await _me_status(mesh, session))[0] == 200:
        assert time.perf_counter() - started < 5, "the session is still valid"
    return time.perf_counter() - started


async def test_an_admin_sees_how_sessions_began_and_ends_one_then_all_through_the_api(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """The sessions API on the real gateway: each session names its connection, client IP and
    user agent as the gateway saw the sign-in; DELETE /sessions/{id} ends one and
    POST /users/{id}:revoke-sessions the rest, each browser sent to sign in within a second."""
    tenant = await oidc_tenant()
    token = await create_token(sso_mesh, tenant.account_id, ["users:manage"])
    user = fresh_user()
    async with (
        await _signed_in(sso_mesh, tenant, user) as laptop,
        await _signed_in(sso_mesh, tenant, user) as phone,
    ):
        listed = await _api(sso_mesh, token, "GET", f"/users?email={user}@{tenant.domain}")
        (found,) = listed["items"]
        sessions = (await _api(sso_mesh, token, "GET", f"/users/{found['id']}/sessions"))["items"]
        assert len(sessions) == 2
        for session in sessions:
            assert session["active"] is True
            assert session["connection_id"] == tenant.connection_id
            assert session["ip_address"] == "127.0.0.1"
            assert session["user_agent"].startswith("Python/")
        newest = sessions[0]["id"]
        await _api(sso_mesh, token, "DELETE", f"/sessions/{newest}", expect=204)
        assert await _seconds_until_signed_out(sso_mesh, phone) < 1.0
        assert (await _me_status(sso_mesh, laptop))[0] == 200
        revoked = await _api(sso_mesh, token, "POST", f"/users/{found['id']}:revoke-sessions")
        assert revoked == {"revoked": 1}
        assert await _seconds_until_signed_out(sso_mesh, laptop) < 1.0
