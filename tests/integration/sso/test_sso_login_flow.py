"""The OIDC login through the real gateway, auth and directory, against an in-process IdP the
test controls: the happy path, then one refusal per row of the OIDC checklist, each with its
reason in the login trace (reference/sso-security.md §3; RFC 9700; RFC 9207; RFC 8725)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from yarl import URL

from directory.testing import Stub
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.idps.oidc import tokens
from tests.idps.oidc.fake_idp import FakeIdp, Grant
from tests.integration.sso.conftest import JWKS_MIN_REFETCH_SECONDS
from tests.integration.sso.harness import Tenant, browser, create_space, last_trace

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

TenantFactory = Callable[..., Any]


async def _start(
    client: aiohttp.ClientSession, gateway_url: str, connection_id: str, **query: str
) -> str:
    """GET start; returns the IdP authorization URL (cookie set in the client's jar)."""
    url = URL(f"{gateway_url}/sso/oidc/{connection_id}/start").update_query(query)
    async with client.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"]


async def _authorize(client: aiohttp.ClientSession, authorization_url: str) -> str:
    """The IdP signs the user in; returns our callback URL with code, state and iss."""
    async with client.get(authorization_url, allow_redirects=False) as response:
        assert response.status == 302
        return response.headers["Location"]


async def _callback(client: aiohttp.ClientSession, callback_url: str) -> aiohttp.ClientResponse:
    async with client.get(callback_url, allow_redirects=False) as response:
        await response.read()
        return response


async def login(
    gateway_url: str, made: Tenant, *, login_hint: str = "", return_to: str = ""
) -> tuple[aiohttp.ClientSession, aiohttp.ClientResponse]:
    """A whole login in a fresh browser; the caller closes the returned client."""
    client = browser()
    query = {k: v for k, v in {"login_hint": login_hint, "return_to": return_to}.items() if v}
    authorization = await _start(client, gateway_url, made.connection_id, **query)
    callback = await _authorize(client, authorization)
    response = await _callback(client, callback)
    return client, response


def _user(idp: FakeIdp, login: str, **claims: Any) -> str:
    idp.users[login] = {"subject": login, "email": f"{login}@{idp.email_domain}", **claims}
    return login


async def test_a_full_login_opens_a_session_and_shows_the_user_on_me(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub,
    directory: Stub,
) -> None:  # fmt: skip
    """Code flow with PKCE S256, state and nonce, RFC 9207 iss; the session cookie is
    HttpOnly and SameSite=Lax; /me shows profile, spaces, roles and groups."""
    made: Tenant = await tenant()
    await create_space(directory, made.account_id, "DevOps")
    _user(idp, "ada", given_name="Ada", family_name="Lovelace", timezone="Europe/London",
          space_name="DevOps", space_role="Space Developer")  # fmt: skip
    client = browser()
    try:
        authorization = await _start(client, gateway_url, made.connection_id, login_hint="ada")
        params = parse_qs(urlsplit(authorization).query)
        assert params["code_challenge_method"] == ["S256"]
        assert params["response_type"] == ["code"]
        assert len(params["state"][0]) >= 43
        assert len(params["nonce"][0]) >= 43
        assert params["login_hint"] == ["ada"]
        assert params["redirect_uri"] == [f"{gateway_url}/sso/oidc/{made.connection_id}/callback"]
        callback = await _authorize(client, authorization)
        async with client.get(callback, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/me"
            cookie = response.headers.getall("Set-Cookie")
        session_cookie = next(c for c in cookie if c.startswith("idmesh_session="))
        assert "HttpOnly" in session_cookie
        assert "SameSite=Lax" in session_cookie
        assert "Secure" not in session_cookie  # PUBLIC_URL is http here
        async with client.get(f"{gateway_url}/me") as page:
            assert page.status == 200
            html = await page.text()
        assert f"ada@{made.domain}" in html
        assert "Ada Lovelace" in html
        assert "Europe/London" in html
        assert "DevOps" in html
        assert "Space Developer" in html
    finally:
        await client.close()
    trace = await last_trace(auth, made.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert trace.stage == "session"
    assert trace.email == f"ada@{made.domain}"
    assert trace.has_clock_delta
    assert trace.claims["nonce"] == "[redacted]"
    assert len(trace.trace_id) == 32


async def test_the_html_pages_are_escaped_accessible_and_locked_down(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp
) -> None:
    """Plain HTML with lang, labels and focus; a CSP without inline scripts; a claim full of
    markup is shown as text."""
    made: Tenant = await tenant()
    _user(idp, "eve", given_name='<script>alert("x")</script>', family_name="&<>")
    client, _response = await login(gateway_url, made, login_hint="eve")
    try:
        async with client.get(f"{gateway_url}/me") as page:
            html = await page.text()
            csp = page.headers["Content-Security-Policy"]
            assert page.headers["Cache-Control"] == "no-store"
            assert page.headers["X-Frame-Options"] == "DENY"
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert '<html lang="en">' in html
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        async with client.get(f"{gateway_url}/login") as page:
            form = await page.text()
        assert '<label for="email">' in form
        assert 'id="email"' in form
        assert "autofocus" in form
    finally:
        await client.close()


async def test_home_realm_discovery_routes_an_email_to_its_connection(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp
) -> None:
    """The Torque guide's login page: the user types a corporate email; the domain leads to
    the IdP, with the email as login_hint."""
    made: Tenant = await tenant()
    async with browser() as client:
        async with client.post(
            f"{gateway_url}/login",
            data={"email": f"bob@{made.domain}", "return_to": "/me"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            location = response.headers["Location"]
        assert location.startswith(f"/sso/oidc/{made.connection_id}/start?")
        assert parse_qs(urlsplit(location).query)["login_hint"] == [f"bob@{made.domain}"]
        async with client.post(f"{gateway_url}/login", data={"email": "x@nowhere.test"}) as page:
            assert page.status == 404
            assert "No single sign-on" in await page.text()
        async with client.post(
            f"{gateway_url}/login", data={"email": "x@a.test"},
            headers={"Origin": "https://evil.test"},
        ) as page:  # fmt: skip
            assert page.status == 403


async def test_the_account_page_shows_a_button_per_connection(
    gateway_url: str, tenant: TenantFactory
) -> None:
    """Seed 001: "they will see a 'Sign in with Azure' button"."""
    made: Tenant = await tenant(display_name='Acme <Okta> & "friends"')
    async with (
        browser() as client,
        client.get(f"{gateway_url}/login", params={"account": made.account_name}) as page,
    ):
        html = await page.text()
    assert "Sign in with Acme &lt;Okta&gt; &amp; &#34;friends&#34;" in html
    assert f'href="/sso/oidc/{made.connection_id}/start"' in html


# -- the checklist, one refusal each ------------------------------------------------------------


def _forge(idp: FakeIdp, make: Callable[[FakeIdp, Grant], str]) -> None:
    idp.forge = make


async def _refused(
    gateway_url: str, made: Tenant, auth: AuthServiceAsyncStub
) -> tuple[auth_pb2.LoginTrace, str]:
    client, response = await login(gateway_url, made)
    await client.close()
    assert response.status == 403, response.status
    trace = await last_trace(auth, made.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_FAILURE
    return trace, trace.reason


def _claims(idp: FakeIdp, grant: Grant, **changes: Any) -> dict[str, Any]:
    return tokens.claims(idp.issuer, grant.client_id, grant.nonce, **changes)


FORGERIES: list[tuple[str, Callable[[FakeIdp, Grant], str], str]] = [
    ("alg none", lambda i, g: tokens.unsigned(_claims(i, g)), "alg_not_allowed"),
    ("HS256 with the IdP's public key",
     lambda i, g: tokens.hs256_with_public_key(_claims(i, g), i.signing_key), "alg_not_allowed"),
    ("wrong iss", lambda i, g: tokens.sign(_claims(i, g, iss="https://evil.test"), i.signing_key),
     "iss_mismatch"),
    ("wrong aud", lambda i, g: tokens.sign(_claims(i, g, aud="someone-else"), i.signing_key),
     "aud_mismatch"),
    ("expired", lambda i, g: tokens.sign(_claims(i, g, now=time.time() - 900), i.signing_key),
     "expired"),
    ("wrong nonce", lambda i, g: tokens.sign(_claims(i, g, nonce="replayed-nonce"),
                                               i.signing_key), "nonce_mismatch"),
    ("tampered signature",
     lambda i, g: tokens.tamper(tokens.sign(_claims(i, g), i.signing_key), sub="admin"),
     "invalid_signature"),
]  # fmt: skip


@pytest.mark.parametrize(("forgery", "make", "reason"), FORGERIES, ids=[f[0] for f in FORGERIES])
async def test_a_forged_or_wrong_id_token_is_refused_with_its_reason_in_the_trace(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub,
    forgery: str, make: Callable[[FakeIdp, Grant], str], reason: str,
) -> None:  # fmt: skip
    """The OIDC checklist (sso-security.md §3), end to end: the user sees the uniform page,
    the admin sees the reason."""
    made: Tenant = await tenant()
    _forge(idp, make)
    trace, got = await _refused(gateway_url, made, auth)
    assert got == reason
    assert trace.stage == "id_token"


async def test_the_error_page_shows_the_trace_id_and_nothing_else(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub
) -> None:
    """A uniform error page: the same text for every reason, the trace id, no oracle."""
    made: Tenant = await tenant()
    _forge(idp, lambda i, g: tokens.unsigned(_claims(i, g)))
    client, response = await login(gateway_url, made)
    await client.close()
    trace = await last_trace(auth, made.account_id)
    async with (
        browser() as other,
        other.get(f"{gateway_url}/sso/oidc/{made.connection_id}/callback?state=x&code=y") as page,
    ):
        second = await page.text()
    assert response.status == 403
    assert "alg" not in second
    assert "state" not in second.lower()
    assert "We couldn" in second
    last = await last_trace(auth, made.account_id)
    assert last.reason == "state_unknown"
    assert last.trace_id != trace.trace_id
    assert f'<code id="trace-id">{last.trace_id}</code>' in second


async def test_a_replayed_state_is_refused(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub
) -> None:
    """RFC 9700 §2.1.1, §4.7: state is single use."""
    made: Tenant = await tenant()
    client = browser()
    try:
        callback = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        assert (await _callback(client, callback)).status == 303
        again = await _callback(client, callback)
    finally:
        await client.close()
    assert again.status == 403
    assert (await last_trace(auth, made.account_id)).reason == "state_replayed"


async def test_a_replayed_code_is_refused_by_the_idp_and_recorded(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub
) -> None:
    """RFC 6749 §4.1.2: a code is single use. A fresh state with a spent code gets invalid_grant
    from the token endpoint."""
    made: Tenant = await tenant()
    client = browser()
    try:
        first = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        assert (await _callback(client, first)).status == 303
        second = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        spent_code = parse_qs(urlsplit(first).query)["code"][0]
        replay = URL(second).update_query(code=spent_code)
        response = await _callback(client, str(replay))
    finally:
        await client.close()
    assert response.status == 403
    trace = await last_trace(auth, made.account_id)
    assert trace.reason == "token_exchange_failed"
    assert "invalid_grant" in trace.detail
    assert trace.stage == "token"


async def test_a_callback_from_another_browser_is_refused(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub
) -> None:
    """RFC 9700 §4.7 (login CSRF): state is bound to the browser that started the login."""
    made: Tenant = await tenant()
    async with browser() as victim, browser() as attacker:
        callback = await _authorize(
            attacker, await _start(attacker, gateway_url, made.connection_id)
        )
        response = await _callback(victim, callback)
    assert response.status == 403
    assert (await last_trace(auth, made.account_id)).reason == "browser_mismatch"


async def test_an_authorization_response_from_another_issuer_is_refused(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, idp: FakeIdp
) -> None:
    """RFC 9207 §2.4 (mix-up, RFC 9700 §4.4): a wrong iss parameter, or none from an IdP that
    promises one, is refused before the code is sent anywhere."""
    made: Tenant = await tenant()
    client = browser()
    try:
        callback = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        response = await _callback(client, str(URL(callback).update_query(iss="https://evil.test")))
    finally:
        await client.close()
    assert response.status == 403
    assert (await last_trace(auth, made.account_id)).reason == "response_iss_mismatch"
    requests_before = idp.token_requests
    idp.send_iss = False
    client, response = await login(gateway_url, made)
    await client.close()
    assert (await last_trace(auth, made.account_id)).reason == "response_iss_missing"
    assert idp.token_requests == requests_before


async def test_an_unknown_kid_is_refetched_once_then_refused(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, idp: FakeIdp
) -> None:
    """Checklist "JWKS cache": on an unknown kid, ONE rate-limited refetch, then refusal."""
    made: Tenant = await tenant()
    client, _response = await login(gateway_url, made)  # warms the JWKS cache
    await client.close()
    await asyncio.sleep(JWKS_MIN_REFETCH_SECONDS + 0.1)
    rogue = tokens.rsa_key("rogue")
    _forge(idp, lambda i, g: tokens.sign(_claims(i, g), rogue))
    before = idp.jwks_fetches
    _, reason = await _refused(gateway_url, made, auth)
    assert reason == "unknown_kid"
    assert idp.jwks_fetches == before + 1
    _, reason = await _refused(gateway_url, made, auth)
    assert reason == "unknown_kid"
    assert idp.jwks_fetches == before + 1  # rate-limited: no second refetch


async def test_key_rotation_works_without_a_restart(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, idp: FakeIdp
) -> None:
    """real-idps.md §2 "key rotation": the IdP starts signing with a new key; the cached JWKS
    lacks it; one refetch finds it and the login succeeds."""
    made: Tenant = await tenant()
    client, _ = await login(gateway_url, made)
    await client.close()
    await asyncio.sleep(JWKS_MIN_REFETCH_SECONDS + 0.1)
    new = tokens.rsa_key("k2")
    idp.published = [idp.signing_key, new]
    idp.signing_key = new
    client, response = await login(gateway_url, made)
    await client.close()
    assert response.status == 303
    assert (await last_trace(auth, made.account_id)).outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS


@pytest.mark.parametrize(
    "return_to", ["//evil.test", "https://evil.test/", "/\\evil.test", "/%2F%2Fevil.test"]
)
async def test_an_open_redirect_return_to_is_refused_at_the_start(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, return_to: str
) -> None:
    """RFC 9700 §4.11: return_to must be a same-origin relative path; the attempt is traced."""
    made: Tenant = await tenant()
    async with browser() as client:
        url = URL(f"{gateway_url}/sso/oidc/{made.connection_id}/start").update_query(
            return_to=return_to
        )
        async with client.get(url, allow_redirects=False) as response:
            assert response.status == 400
            assert "evil" not in (await response.text())
    trace = await last_trace(auth, made.account_id)
    assert trace.reason == "return_to_rejected"
    assert trace.stage == "start"


async def test_a_relative_return_to_is_where_the_login_lands(
    gateway_url: str, tenant: TenantFactory
) -> None:
    made: Tenant = await tenant()
    client, response = await login(gateway_url, made, return_to="/me?tab=groups")
    await client.close()
    assert response.headers["Location"] == "/me?tab=groups"


async def test_an_idp_error_is_recorded_with_its_code_only(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub
) -> None:
    """RFC 6749 §4.1.2.1: error=access_denied from the IdP; its description is not kept."""
    made: Tenant = await tenant()
    client = browser()
    try:
        callback = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        state = parse_qs(urlsplit(callback).query)["state"][0]
        denied = URL(f"{gateway_url}/sso/oidc/{made.connection_id}/callback").update_query(
            state=state, error="access_denied", error_description="<b>user said no</b>"
        )
        response = await _callback(client, str(denied))
    finally:
        await client.close()
    assert response.status == 403
    trace = await last_trace(auth, made.account_id)
    assert trace.reason == "idp_error"
    assert "access_denied" in trace.detail
    assert "user said no" not in trace.detail


async def test_an_unverified_email_cannot_take_over_an_existing_user(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub,
    directory: Stub,
) -> None:  # fmt: skip
    """nOAuth: an email outside the verified domains the connection serves, or one Okta says
    is not verified, links no one."""
    made: Tenant = await tenant()
    for email in ("boss@other.test", f"boss@{made.domain}"):
        await directory.CreateUser(
            directory_pb2.CreateUserRequest(
                user=directory_pb2.User(account_id=made.account_id, user_name=email),
            )
        )
    for email, reason in [
        ("boss@other.test", "email_domain_not_served"),
        (f"boss@{made.domain}", "email_not_verified"),
    ]:
        _user(idp, "mallory", email=email, email_verified=False)
        client, response = await login(gateway_url, made, login_hint="mallory")
        await client.close()
        assert response.status == 403
        trace = await last_trace(auth, made.account_id)
        assert (trace.reason, trace.stage) == (reason, "provisioning")


async def test_an_entra_groups_overage_is_recorded_in_the_trace(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub
) -> None:
    """Microsoft Learn "Configure group claims": the overage is noted, never read as no groups."""
    made: Tenant = await tenant()
    _user(idp, "many", _claim_names={"groups": "src1"},
          _claim_sources={"src1": {"endpoint": "https://graph.microsoft.com/v1.0/x"}})  # fmt: skip
    client, response = await login(gateway_url, made, login_hint="many")
    await client.close()
    assert response.status == 303
    trace = await last_trace(auth, made.account_id)
    assert "groups overage" in trace.detail
    assert trace.claims["_claim_sources"] == "[redacted]"


async def test_userinfo_claims_are_merged_under_the_id_tokens(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub,
    directory: Stub,
) -> None:  # fmt: skip
    """OIDC Core §5.3: the okta preset asks the userinfo endpoint after the ID token; its
    groups reach group sync, and where both name a claim the signed ID token wins."""
    made: Tenant = await tenant()
    assert made.connection.oidc.userinfo
    await directory.CreateGroup(
        directory_pb2.CreateGroupRequest(
            group=directory_pb2.Group(
                account_id=made.account_id, display_name="Eng", idp_identifier="gid-eng"
            ),
        )
    )
    _user(idp, "uma")
    idp.userinfo_claims = {"groups": ["gid-eng"], "email": "someone@else.test"}
    client, response = await login(gateway_url, made, login_hint="uma")
    await client.close()
    assert response.status == 303
    trace = await last_trace(auth, made.account_id)
    assert (trace.email, list(trace.groups)) == (f"uma@{made.domain}", ["gid-eng"])
    assert "groups +1" in trace.detail


async def test_a_userinfo_answer_about_another_subject_is_refused(
    gateway_url: str, tenant: TenantFactory, idp: FakeIdp, auth: AuthServiceAsyncStub,
    directory: Stub,
) -> None:  # fmt: skip
    """OIDC Core §5.3.2: the userinfo sub MUST equal the ID token's, else its values MUST NOT
    be used: the login is refused at the userinfo stage and nobody is created."""
    made: Tenant = await tenant()
    _user(idp, "sam")
    idp.userinfo_claims = {"sub": "someone-else", "groups": ["gid-admins"]}
    client, response = await login(gateway_url, made, login_hint="sam")
    await client.close()
    assert response.status == 403
    trace = await last_trace(auth, made.account_id)
    assert (trace.stage, trace.reason) == ("userinfo", "userinfo_sub_mismatch")
    listed = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=made.account_id))
    assert list(listed.users) == []
