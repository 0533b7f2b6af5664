"""Who a setup link lets in, through the real gateway, auth and directory: the browser that
opened it and no other; a used, expired or revoked link gets a page saying which and no access;
a link of account A reaches nothing of account B; forms need the session's token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
from google.protobuf import timestamp_pb2

from gateway.setup import idps
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.idps.oidc import tokens
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import browser, verify_domain
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub


async def _link(auth: AuthServiceAsyncStub, account_id: str) -> auth_pb2.CreateSetupLinkResponse:
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    return await auth.CreateSetupLink(
        auth_pb2.CreateSetupLinkRequest(
            account_id=account_id, sso=True, scim=True, expire_time=expire, created_by="tests"
        )
    )


async def _open(client: aiohttp.ClientSession, gateway_url: str, secret: str) -> int:
    async with client.get(f"{gateway_url}/setup/{secret}", allow_redirects=False) as response:
        await response.read()
        return response.status


async def _page(client: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with client.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_the_first_browser_gets_the_wizard_and_a_second_a_used_link_page(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub
) -> None:
    account = await new_account(directory)
    created = await _link(auth, account.id)
    first, second = browser(), browser()
    try:
        assert await _open(first, gateway_url, created.secret) == 303
        status, html = await _page(first, f"{gateway_url}/setup")
        assert status == 200
        assert "Email domains" in html
        assert created.secret not in html
        assert await _open(first, gateway_url, created.secret) == 303  # a reload
        assert await _open(second, gateway_url, created.secret) == 410
        status, html = await _page(second, f"{gateway_url}/setup/{created.secret}")
        assert status == 410
        assert "already been used" in html
        status, html = await _page(second, f"{gateway_url}/setup/domains")
        assert status == 403
        assert "Open your setup link first" in html
    finally:
        await first.close()
        await second.close()


async def test_revoked_and_expired_links_end_the_open_wizard_with_a_clear_page(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub, pool: asyncpg.Pool
) -> None:
    account = await new_account(directory)
    revoked, expired = await _link(auth, account.id), await _link(auth, account.id)
    one, two = browser(), browser()
    try:
        assert await _open(one, gateway_url, revoked.secret) == 303
        assert await _open(two, gateway_url, expired.secret) == 303
        await auth.RevokeSetupLink(
            auth_pb2.RevokeSetupLinkRequest(account_id=account.id, link_id=revoked.link.id)
        )
        await pool.execute(
            "UPDATE auth.setup_links SET expire_time = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(expired.link.id),
        )
        for client, words in ((one, "was revoked"), (two, "has expired")):
            for path in ("/setup", "/setup/sso", "/setup/scim/log"):
                status, html = await _page(client, f"{gateway_url}{path}")
                assert status == 410, path
                assert words in html
        status, html = await _page(one, f"{gateway_url}/setup/idsl_{'x' * 43}")
        assert status == 404
        assert "not valid" in html
    finally:
        await one.close()
        await two.close()


async def test_a_link_of_one_account_reaches_nothing_of_another(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub
) -> None:
    """Everything the wizard shows or changes is the link's account's: another account's
    domains are neither listed nor checked, its traces are not shown by id."""
    mine, theirs = await new_account(directory), await new_account(directory)
    their_domain = f"b{uuid.uuid4().hex[:8]}.test"
    await directory.ClaimDomain(
        directory_pb2.ClaimDomainRequest(
            account_id=theirs.id, domain=their_domain,
            actor=directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_CLI, id="t"),
        )
    )  # fmt: skip
    created = await _link(auth, mine.id)
    client = browser()
    try:
        await _open(client, gateway_url, created.secret)
        status, html = await _page(client, f"{gateway_url}/setup/domains")
        assert status == 200
        assert their_domain not in html
        async with client.get(f"{gateway_url}/setup/domains") as page:
            token = _csrf(await page.text())
        async with client.post(
            f"{gateway_url}/setup/domains/check", data={"csrf_token": token},
            headers={"Accept": "application/json"},
        ) as checked:  # fmt: skip
            assert checked.status == 200
            assert their_domain not in await checked.text()
        status, html = await _page(client, f"{gateway_url}/setup/test?trace={'a' * 32}")
        assert status == 200
        assert "test-result" not in html
    finally:
        await client.close()
    events = await directory.ListAuditEvents(
        directory_pb2.ListAuditEventsRequest(account_id=theirs.id)
    )
    assert all(e.actor.type != directory_pb2.ACTOR_TYPE_SETUP_LINK for e in events.events)


async def test_a_form_without_the_sessions_token_changes_nothing(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub
) -> None:
    account = await new_account(directory)
    created = await _link(auth, account.id)
    client = browser()
    try:
        await _open(client, gateway_url, created.secret)
        async with client.post(
            f"{gateway_url}/setup/domains", data={"domain": "forged.test", "csrf_token": "x"}
        ) as response:
            assert response.status == 403
        async with client.post(
            f"{gateway_url}/setup/domains", data={"domain": "forged.test"},
            headers={"Origin": "https://evil.test"},
        ) as response:  # fmt: skip
            assert response.status == 403
    finally:
        await client.close()
    listed = await directory.ListDomains(directory_pb2.ListDomainsRequest(account_id=account.id))
    assert list(listed.domains) == []


async def test_opening_and_each_setup_action_is_audited_with_the_link(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub
) -> None:
    account = await new_account(directory)
    created = await _link(auth, account.id)
    client = browser()
    try:
        await _open(client, gateway_url, created.secret)
        async with client.get(f"{gateway_url}/setup/domains") as page:
            token = _csrf(await page.text())
        domain = f"a{uuid.uuid4().hex[:8]}.test"
        async with client.post(
            f"{gateway_url}/setup/domains", data={"domain": domain, "csrf_token": token},
            allow_redirects=False,
        ) as response:  # fmt: skip
            assert response.status == 303
        async with client.post(
            f"{gateway_url}/setup/scim/token", data={"csrf_token": token}
        ) as response:
            assert response.status == 200
            assert "scim-token" in await response.text()
    finally:
        await client.close()
    events = await directory.ListAuditEvents(
        directory_pb2.ListAuditEventsRequest(account_id=account.id)
    )
    by_link = [e for e in events.events if e.actor.type == directory_pb2.ACTOR_TYPE_SETUP_LINK]
    assert {e.actor.id for e in by_link} == {created.link.id}
    assert [e.action for e in by_link] == [
        "setup_link.opened", "domain.claimed", "setup_link.scim_token_created",
    ]  # fmt: skip


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def _post(
    client: aiohttp.ClientSession, url: str, token: str, **fields: str
) -> tuple[int, str, str]:
    async with client.post(
        url, data={"csrf_token": token, **fields}, allow_redirects=False
    ) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def test_the_whole_wizard_renders_and_runs_against_an_in_process_idp(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub, idp: FakeIdp
) -> None:
    """Every page, every IdP guide, the connection made disabled, a test sign-in's result page
    (a user who signs in the old way keeps doing so), the SCIM token and log, and Finish."""
    account = await new_account(directory)
    domain = f"w{uuid.uuid4().hex[:8]}.test"
    await verify_domain(directory, account.id, domain)
    idp.email_domain = domain
    idp.users["ada"] = {"subject": "ada", "email": f"ada@{domain}", "space_name": "Nowhere"}
    created = await _link(auth, account.id)
    client = browser()
    try:
        await _open(client, gateway_url, created.secret)
        for path in ("/setup", "/setup/domains", "/setup/sso", "/setup/test", "/setup/scim",
                     "/setup/finish", *(f"/setup/sso/{g.key}" for g in idps.GUIDES)):  # fmt: skip
            status, html = await _page(client, f"{gateway_url}{path}")
            assert status == 200, f"{path}: {html[-2000:]}"
        status, html = await _page(client, f"{gateway_url}/setup/domains")
        token = _csrf(html)
        assert domain in html
        status, location, html = await _post(
            client, f"{gateway_url}/setup/sso/oidc/okta", token, issuer=idp.issuer,
            client_id="wrong", client_secret="",
        )  # fmt: skip
        assert status == 400
        assert "Client secret is required." in html
        status, location, html = await _post(
            client, f"{gateway_url}/setup/sso/oidc/okta", token, issuer=idp.issuer + "/nowhere",
            client_id=idp.client_id, client_secret=idp.client_secret,
        )  # fmt: skip
        assert status == 400
        assert "Okta domain (Issuer): discovery check failed" in html
        status, location, _ = await _post(
            client, f"{gateway_url}/setup/sso/oidc/okta", token, issuer=idp.issuer,
            client_id=idp.client_id, client_secret=idp.client_secret,
        )  # fmt: skip
        assert (status, location) == (303, "/setup/sso")
        status, html = await _page(client, f"{gateway_url}/setup/sso")
        assert "Sign-in redirect URIs" in html
        listed = await auth.ListConnections(auth_pb2.ListConnectionsRequest(account_id=account.id))
        (connection,) = listed.connections
        assert not connection.enabled
        assert list(connection.domains) == [domain]

        status, location, _ = await _post(
            client, f"{gateway_url}/setup/test/start", token, login_hint="ada"
        )
        async with client.get(location, allow_redirects=False) as at_idp:
            callback = at_idp.headers["Location"]
        async with client.get(callback, allow_redirects=False) as back:
            assert back.status == 303
            result_url = back.headers["Location"]
        status, html = await _page(client, f"{gateway_url}{result_url}")
        assert status == 200
        assert "idmesh would create a new user" in html
        assert "Groups claim filter" in html
        assert "The space &#34;Nowhere&#34; (space_name) does not exist" in html

        # A test whose answer idmesh refuses before it knows it for a test (a signature by a
        # key the IdP does not publish) ends on the error page; the wizard then shows why.
        idp.signing_key = tokens.rsa_key("unpublished")
        status, location, _ = await _post(
            client, f"{gateway_url}/setup/test/start", token, login_hint="ada"
        )
        async with client.get(location, allow_redirects=False) as at_idp:
            callback = at_idp.headers["Location"]
        async with client.get(callback, allow_redirects=False) as back:
            assert back.status == 403
        status, html = await _page(client, f"{gateway_url}/setup/test")
        assert "The sign-in did not complete" in html
        assert "(unknown_kid)" in html

        status, _, html = await _post(client, f"{gateway_url}/setup/scim/token", token)
        assert status == 200
        assert "idm_" in html
        assert 'aria-label="Copy SCIM connector base URL"' in html
        assert 'aria-label="Copy Secret Token"' in html
        assert "Copy Unique identifier field" not in html  # a choice in Okta, not pasted
        async with client.get(f"{gateway_url}/setup/scim/log") as log:
            assert (await log.json()) == {"events": []}
        status, location, html = await _post(client, f"{gateway_url}/setup/finish", token)
        assert status == 200
        assert "is connected" in html
    finally:
        await client.close()
    found = await auth.GetConnection(
        auth_pb2.GetConnectionRequest(account_id=account.id, connection_id=connection.id)
    )
    assert found.connection.enabled


async def test_a_step_the_link_was_not_made_for_is_refused_and_changes_nothing(
    gateway_url: str, auth: AuthServiceAsyncStub, directory: Stub
) -> None:
    """A link made for SCIM only reaches neither the identity-provider step nor the domains."""
    account = await new_account(directory)
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    created = await auth.CreateSetupLink(
        auth_pb2.CreateSetupLinkRequest(account_id=account.id, scim=True, expire_time=expire)
    )
    client = browser()
    try:
        await _open(client, gateway_url, created.secret)
        status, html = await _page(client, f"{gateway_url}/setup/scim")
        assert status == 200
        token = _csrf(html)
        for path in ("/setup/sso", "/setup/sso/oidc/okta", "/setup/test", "/setup/domains"):
            status, html = await _page(client, f"{gateway_url}{path}")
            assert status == 403, path
            assert "does not include this step" in html
        status, _, _ = await _post(
            client, f"{gateway_url}/setup/sso/oidc/okta", token, issuer="https://x.test",
            client_id="c", client_secret="s",
        )  # fmt: skip
        assert status == 403
    finally:
        await client.close()
    listed = await auth.ListConnections(auth_pb2.ListConnectionsRequest(account_id=account.id))
    assert list(listed.connections) == []
