"""Sign-in with two replicas of every service: whatever one gateway (and whichever auth replica
it reached) started or consumed, the other knows, because the login state, the SAML replay
cache and the sessions live in the database both share (docs/sso-security.md §2, rows 7 and 8;
README, "Sessions an admin can see and end"). The IdPs are the real ones of the SSO suites:
oidc-provider (OpenID certified) and samlify.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from idmesh.auth.v1 import auth_pb2
from tests.e2e.oidc.helpers import (
    OidcTenant,
    browser,
    fresh_user,
    login_traces,
    make_tenant_factory,
    run_idmesh,
)
from tests.e2e.replicas.replicas import Replicas
from tests.e2e.replicas.routing import via
from tests.e2e.tenants import create_account, create_token, unique_name, verify_domain
from tests.idps.oidc.provider import OidcProvider, sign_in_at_idp
from tests.idps.saml.samlify_idp import SamlifyIdp, read_post_form

pytestmark = pytest.mark.e2e

SESSION_COOKIE = "idmesh_session"
FIRST, SECOND = 0, 1


# -- OIDC ---------------------------------------------------------------------------------------


async def _callback_url(
    replicas: Replicas, session: aiohttp.ClientSession, tenant: OidcTenant, user: str, start: int
) -> str:
    """An OIDC login started on gateway ``start``, signed in at the IdP: the callback URL the
    IdP sends the browser back to (under the public URL), not yet requested."""
    tenant.provider.ensure_email(user, tenant.domain)
    url = via(replicas, start, f"/sso/oidc/{tenant.connection_id}/start")
    async with session.get(url, allow_redirects=False) as started:
        assert started.status == 302, await started.text()
        authorization = started.headers["Location"]
    return await sign_in_at_idp(
        session, authorization, f"{replicas.gateway_url}/sso/oidc/", login=user
    )


async def _get(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientResponse:
    async with session.get(url, allow_redirects=False) as response:
        await response.read()
        return response


async def _signed_in_via(
    replicas: Replicas, oidc_provider: OidcProvider, replica: int
) -> tuple[OidcTenant, aiohttp.ClientSession, str]:
    """A user signed in through gateway ``replica`` (start and callback there): the tenant, the
    browser and its session cookie's value."""
    tenant = await make_tenant_factory(replicas, oidc_provider)("--no-rp-logout")
    session = browser()
    callback = await _callback_url(replicas, session, tenant, fresh_user(), replica)
    signed_in = await _get(session, via(replicas, replica, callback))
    assert signed_in.status == 303, signed_in.headers
    cookie = next(c.value for c in session.cookie_jar if c.key == SESSION_COOKIE)
    return tenant, session, cookie


async def _me(replicas: Replicas, replica: int, cookie: str) -> int:
    """GET /me on gateway ``replica`` with session cookie ``cookie`` (sent by hand: a signed-out
    browser drops it, an attacker who copied it would not); 200 or a redirect to sign in."""
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            via(replicas, replica, "/me"),
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            allow_redirects=False,
        ) as response,
    ):
        return response.status


async def test_an_oidc_login_moves_between_gateways_and_its_replayed_state_is_refused(
    replicas: Replicas, oidc_provider: OidcProvider
) -> None:
    """The state, nonce and PKCE verifier of a login live in auth's database (row 7), so the
    callback may reach either gateway; the state is single use (RFC 9700 §4.7) on every
    replica: the callback replayed on the first gateway is refused with state_replayed."""
    tenant = await make_tenant_factory(replicas, oidc_provider)()
    async with browser() as session:
        callback = await _callback_url(replicas, session, tenant, fresh_user(), start=FIRST)
        completed = await _get(session, via(replicas, SECOND, callback))
        assert completed.status == 303, completed.headers
        assert any(c.key == SESSION_COOKIE for c in session.cookie_jar)
        replayed = await _get(session, via(replicas, FIRST, callback))
        assert replayed.status == 403
    (trace, success, *_) = await login_traces(replicas, tenant.account_id)
    assert trace.reason == "state_replayed"
    assert success.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS


async def test_a_session_is_valid_on_both_gateways_and_signing_out_on_one_ends_it_on_both(
    replicas: Replicas, oidc_provider: OidcProvider
) -> None:
    """Nothing caches a session (README: "an ended session is refused by the very next
    validation on every replica"): valid on both gateways, and after the sign-out on the
    second, refused at once on the first, with no wait at all."""
    _, session, cookie = await _signed_in_via(replicas, oidc_provider, FIRST)
    async with session:
        assert [await _me(replicas, r, cookie) for r in (FIRST, SECOND)] == [200, 200]
        async with session.post(
            via(replicas, SECOND, "/logout"), allow_redirects=False
        ) as signed_out:
            assert signed_out.status == 303
    assert [await _me(replicas, r, cookie) for r in (FIRST, SECOND)] == [303, 303]


async def test_a_session_an_admin_ends_via_one_gateway_is_refused_on_the_other_at_once(
    replicas: Replicas, oidc_provider: OidcProvider
) -> None:
    """POST /api/v1/users/{id}:revoke-sessions through the second gateway ends the session on
    every replica at once (the API's own description: "Every live session of the user ends at
    once")."""
    tenant, session, cookie = await _signed_in_via(replicas, oidc_provider, FIRST)
    await session.close()
    assert await _me(replicas, FIRST, cookie) == 200
    (signed_in, *_) = await login_traces(replicas, tenant.account_id)
    admin = await create_token(replicas, tenant.account_id, ["users:manage"])
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            via(replicas, SECOND, f"/api/v1/users/{signed_in.user_id}:revoke-sessions"),
            headers={"Authorization": f"Bearer {admin}"},
        ) as revoked,
    ):
        assert revoked.status == 200, await revoked.text()
        assert (await revoked.json())["revoked"] == 1
    assert await _me(replicas, FIRST, cookie) == 303


# -- SAML ---------------------------------------------------------------------------------------


async def _saml_connection(
    replicas: Replicas, samlify: SamlifyIdp, *extra: str
) -> tuple[dict[str, Any], str]:
    name = unique_name("saml")
    account_id = await create_account(replicas, name)
    domain = f"{name}.test"
    await verify_domain(replicas, account_id, domain)
    out = await run_idmesh(
        replicas, "connection", "add-saml", "--account", name, "--metadata",
        samlify.metadata_url, "--domain", domain, *extra, "--json",
    )  # fmt: skip
    return json.loads(out)["connection"], domain


async def _configure(
    samlify: SamlifyIdp, client: aiohttp.ClientSession, connection: dict[str, Any], email: str
) -> None:
    """samlify answers for ``email``, reading our SP metadata through the public URL."""
    async with client.get(connection["saml"]["sp_entity_id"]) as metadata:
        assert metadata.status == 200
        samlify.configure(await metadata.text(), email=email, attributes={"email": [email]})


async def _post_response(
    replicas: Replicas, client: aiohttp.ClientSession, page: str, replica: int
) -> aiohttp.ClientResponse:
    """Posts the IdP's auto-submitting form to the ACS of gateway ``replica``."""
    action, fields = read_post_form(page)
    async with client.post(
        via(replicas, replica, action), data=fields, allow_redirects=False
    ) as response:
        await response.read()
        return response


async def test_a_saml_response_consumed_via_one_gateway_is_refused_via_the_other(
    replicas: Replicas, samlify: SamlifyIdp
) -> None:
    """The replay cache is shared by every auth replica (row 8; auth.sso.saml.replay): an
    IdP-initiated response (no pending login, so nothing but the cache can tell a replay)
    consumed through the first gateway is refused through the second, reason replayed."""
    connection, domain = await _saml_connection(replicas, samlify, "--allow-idp-initiated")
    async with browser() as client:
        await _configure(samlify, client, connection, f"ida@{domain}")
        async with client.get(f"{samlify.base}/idp-init") as idp_page:
            page = await idp_page.text()
        consumed = await _post_response(replicas, client, page, FIRST)
        assert consumed.status == 303  # restarted as an SP-initiated login (row 15)
        replayed = await _post_response(replicas, client, page, SECOND)
        assert replayed.status == 403
    (trace, restarted, *_) = await login_traces(replicas, connection["account_id"])
    assert (trace.reason, trace.outcome) == ("replayed", auth_pb2.LOGIN_OUTCOME_FAILURE)
    assert restarted.outcome == auth_pb2.LOGIN_OUTCOME_RESTARTED


async def test_a_saml_login_started_on_one_gateway_completes_on_the_other(
    replicas: Replicas, samlify: SamlifyIdp
) -> None:
    """The pending AuthnRequest is auth's, in the database: started through the first
    gateway, answered at the second's ACS, the user is signed in; the same response posted
    to the first again is refused."""
    connection, domain = await _saml_connection(replicas, samlify)
    async with browser() as client:
        await _configure(samlify, client, connection, f"ada@{domain}")
        url = via(replicas, FIRST, f"/sso/saml/{connection['id']}/start")
        async with client.get(url, allow_redirects=False) as started:
            assert started.status == 302
            location = started.headers["Location"]
        async with client.get(location) as idp_page:
            page = await idp_page.text()
        signed_in = await _post_response(replicas, client, page, SECOND)
        assert signed_in.status == 303
        assert signed_in.headers["Location"] == "/me"
        replayed = await _post_response(replicas, client, page, FIRST)
        assert replayed.status == 403
    (trace, success, *_) = await login_traces(replicas, connection["account_id"])
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_FAILURE
    assert success.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
