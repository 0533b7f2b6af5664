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

from directory.testing import Stub, new_account
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.integration.sso.harness import browser

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
