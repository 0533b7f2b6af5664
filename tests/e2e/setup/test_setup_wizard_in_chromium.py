"""A customer's IT admin connects their IdP through a setup link, in Debian's Chromium.

The account admin creates the link on the console (the SAML path: through the API); a fresh
browser opens it. Each path runs to
the end against a real IdP: the domain is verified against the loopback DNS server (the page
polls and moves on), the IdP step is filled with what the IdP gives back, the test sign-in shows
the claims and the six rules' outcome and writes nothing (checked in the database), the SCIM
token is created and a replayed Entra "Test connection" and first user push appear live, Finish
turns the connection on, and a real sign-in then works. Every step is screenshotted to
tests/artifacts/setup/, and every setup action is in the audit log with the link as its actor.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from infra.dev.mesh import Mesh
from tests.dns.server import LoopbackDns
from tests.e2e.scim.gateway_client import GatewayScim
from tests.e2e.tenants import create_account, create_token, run_cli, unique_name
from tests.idps.oidc.provider import OidcProvider
from tests.idps.saml.samlify_idp import SamlifyIdp
from tests.integration.scim import replays

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "setup"
ADMIN_PASSWORD = "a long bootstrap password"
ADMIN_PERMISSIONS = ("connections:manage", "tokens:manage", "spaces:manage", "groups:manage",
                     "audit:read")  # fmt: skip
# Everything a sign-in may write for an account.
_WRITES = """
SELECT (SELECT count(*) FROM directory.users WHERE account_id = $1) AS users,
    (SELECT count(*) FROM directory.identity_links WHERE account_id = $1) AS links,
    (SELECT count(*) FROM directory.space_memberships WHERE account_id = $1) AS grants,
    (SELECT count(*) FROM directory.group_members WHERE account_id = $1) AS members,
    (SELECT count(*) FROM auth.sessions WHERE account_id = $1) AS sessions
"""
# What the IT admin did, in the audit log, as the link.
LINK_ACTIONS = {"setup_link.opened", "domain.claimed", "domain.verified",
                "setup_link.connection_created", "setup_link.test_sign_in",
                "setup_link.connection_enabled", "setup_link.finished"}  # fmt: skip


class Shots:
    """Full-page screenshots, numbered in the order the IT admin sees the pages."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for stale in ARTIFACTS.glob(f"{path}-*.png"):
            stale.unlink()

    async def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        target = ARTIFACTS / f"{self.path}-{self.count:02d}-{name}.png"
        await page.screenshot(path=str(target), full_page=True)


class Admin:
    """The account admin: an account, a token, and the API."""

    def __init__(self, mesh: Mesh, http: aiohttp.ClientSession, account_id: str, token: str):
        self.mesh, self.http, self.account_id = mesh, http, account_id
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        url = f"{self.mesh.gateway_url}/api/v1{path}"
        async with self.http.request(method, url, headers=self.headers, **kwargs) as response:
            text = await response.text()
            assert response.status == expect, f"{method} {path}: {response.status} {text}"
            return await response.json() if text else None


async def _admin(mesh: Mesh, http: aiohttp.ClientSession, name: str) -> tuple[Admin, str]:
    account_id = await create_account(mesh, name)
    token = await create_token(mesh, account_id, ADMIN_PERMISSIONS)
    admin = Admin(mesh, http, account_id, token)
    await admin.call("POST", "/spaces", 201, json={"name": "DevOps"})
    await admin.call("POST", "/groups", 201,
                     json={"display_name": "Developers", "idp_identifier": "devs"})  # fmt: skip
    return admin, f"{name}.test"


async def _console_creates_link(
    context: BrowserContext, mesh: Mesh, account: str, shot: Shots
) -> tuple[Page, str]:
    """The account admin (``idmesh admin create``) signs in to the console and creates a link
    for single sign-on and SCIM; returns the console's page and the link's URL."""
    email = f"boss@{account}.example.com"
    await run_cli(mesh, "admin", "create", "--account", account, "--email", email,
                  stdin=ADMIN_PASSWORD + "\n")  # fmt: skip
    page = await context.new_page()
    await page.goto(f"{mesh.gateway_url}/admin/login")
    await page.get_by_label("Account name").fill(account)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{mesh.gateway_url}/admin")
    await page.get_by_role("link", name="Setup links").click()
    await page.get_by_label("Provisioning (SCIM)").check()
    await page.get_by_role("button", name="Create link").click()
    await page.wait_for_selector("#setup-link-url")
    await shot(page, "console-link-created")
    return page, (await page.text_content("#setup-link-url") or "").strip()


async def _writes(database_url: str, account_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(_WRITES, uuid.UUID(account_id))
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


async def _verify_domain(page: Page, shot: Shots, dns: LoopbackDns, domain: str) -> None:
    """The domains step: add the domain, publish the record it shows, and let the page poll
    DNS until it moves on by itself."""
    await page.get_by_role("link", name="Start").click()
    await page.wait_for_url("**/setup/domains")
    await page.fill("#domain", domain)
    await page.get_by_role("button", name="Add domain").click()
    await page.wait_for_selector("#record-name-1")
    await shot(page, "domain-record")
    record_name = (await page.text_content("#record-name-1") or "").strip()
    record_value = (await page.text_content("#record-value-1") or "").strip()
    assert record_name == f"_idmesh-challenge.{domain}"
    dns.add_txt(record_name, record_value)
    await page.wait_for_selector(".domain-state .badge.ok", timeout=30_000)
    await shot(page, "domain-verified")
    await page.wait_for_url("**/setup/sso", timeout=15_000)


async def _test_sign_in_writes_nothing(
    page: Page, shot: Shots, database_url: str, account_id: str, run: Any
) -> str:
    """Runs the test sign-in (``run`` drives the IdP); returns the result panel's text."""
    before = await _writes(database_url, account_id)
    await page.get_by_role("link", name="Continue: Test sign-in").click()
    await page.wait_for_url("**/setup/test")
    await shot(page, "test-sign-in")
    await run()
    await page.wait_for_url(re.compile(r".*/setup/test\?trace=[0-9a-f]+$"))
    await page.wait_for_selector("#test-result")
    await shot(page, "test-result")
    assert await _writes(database_url, account_id) == before, "the test sign-in wrote"
    return await page.text_content("main") or ""


async def _finish(page: Page, shot: Shots, admin: Admin) -> dict[str, Any]:
    await page.get_by_role("link", name="Continue: Finish").click()
    await page.wait_for_url("**/setup/finish")
    await shot(page, "finish")
    listed = await admin.call("GET", "/connections")
    (connection,) = listed["items"]
    assert connection["enabled"] is False, "the connection is on before Finish"
    await page.get_by_role("button", name="Finish and turn single sign-on on").click()
    await page.wait_for_selector("text=is connected")
    await shot(page, "done")
    listed = await admin.call("GET", "/connections")
    (connection,) = listed["items"]
    assert connection["enabled"] is True
    return dict(connection)


async def _oidc_login(page: Page, email: str) -> None:
    """oidc-provider's dev login (pre-filled from login_hint) and consent."""
    await page.wait_for_selector("input[name=password]")
    if not await page.input_value("input[name=login]"):
        await page.fill("input[name=login]", email)
    await page.fill("input[name=password]", "any-password")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("button[type=submit]")
    await page.click("button[type=submit]")


async def _audited(admin: Admin, link_id: str) -> set[str]:
    events = await admin.call("GET", "/audit-events?page_size=200")
    by_link = [e for e in events["items"] if e["actor"]["type"] == "setup_link"]
    assert {e["actor"]["id"] for e in by_link} == {link_id}
    return {e["action"] for e in by_link}


async def _used_link_page(browser: Browser, url: str, shot: Shots) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        response = await page.goto(url)
        assert response is not None
        assert response.status == 410
        await shot(page, "link-used")
        assert "already been used" in (await page.text_content("h1") or "")
        assert "idmesh_setup" not in {c["name"] for c in await context.cookies()}
    finally:
        await context.close()


async def _sign_in_for_real(context: BrowserContext, mesh: Mesh, email: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{mesh.gateway_url}/login")
    # fill, not typing: keys typed before the field has focus would be lost.
    await page.fill("#email", email)
    await page.press("#email", "Enter")
    return page


async def test_an_okta_style_oidc_setup_runs_to_the_end_and_a_real_sign_in_works(
    chromium: Browser, setup_mesh: Mesh, oidc_idp: OidcProvider, dns_server: LoopbackDns,
    database_url: str,
) -> None:  # fmt: skip
    shot = Shots("oidc")
    mesh = setup_mesh
    account = unique_name("setup")
    console = await chromium.new_context()
    async with aiohttp.ClientSession() as http:
        admin, domain = await _admin(mesh, http, account)
        console_page, url = await _console_creates_link(console, mesh, account, shot)
        (link,) = (await admin.call("GET", "/setup-links"))["items"]
        link["url"] = url
        email = f"ada.{uuid.uuid4().hex[:6]}@{domain}"
        oidc_idp.set_user(email, given_name="Ada", family_name="Lovelace", space_name="DevOps",
                          space_role="Space Developer", timezone="Europe/London",
                          groups=["devs"])  # fmt: skip
        context = await chromium.new_context()
        page = await context.new_page()
        try:
            await page.goto(link["url"])
            await page.wait_for_url(f"{mesh.gateway_url}/setup")
            await shot(page, "overview")
            await _verify_domain(page, shot, dns_server, domain)
            await shot(page, "choose-idp")
            await page.get_by_role("link", name="Okta (OpenID Connect)").click()
            await page.wait_for_url("**/setup/sso/oidc/okta")
            redirect_uri = (await page.text_content("#paste-0") or "").strip()
            assert redirect_uri.startswith(f"{mesh.gateway_url}/sso/oidc/")
            await shot(page, "okta-values")
            client = await oidc_idp.register_client(redirect_uri)  # the IT admin, in Okta
            await page.fill("#issuer", oidc_idp.issuer)
            await page.fill("#client_id", client.client_id)
            await page.fill("#client_secret", client.client_secret)
            await page.fill("#scopes", "torque")
            await page.get_by_role("button", name="Check and save").click()
            await page.wait_for_url("**/setup/sso")
            await shot(page, "okta-connected")
            assert "passed" in (await page.text_content("#checks") or "")

            async def at_okta() -> None:
                await page.fill("#login_hint", email)
                await page.get_by_role("button", name="Test sign-in").click()
                await _oidc_login(page, email)

            result = await _test_sign_in_writes_nothing(
                page, shot, database_url, admin.account_id, at_okta
            )
            assert "idmesh would create a new user" in result
            assert "DevOps: Space Developer" in result
            assert "Europe/London" in result
            assert "devs" in result
            assert "space_role" in result  # the claims as received

            await page.get_by_role("link", name="Continue: Provisioning (SCIM)").click()
            await page.wait_for_url("**/setup/scim")
            await page.get_by_role("button", name="Create the SCIM token").click()
            await page.wait_for_selector("#scim-token")
            await shot(page, "scim-token")
            secret = (await page.text_content("#scim-token") or "").strip()
            scim = GatewayScim(http, mesh.gateway_url, secret)
            await replays.entra_tests_the_connection(scim)
            # The page polls the provisioning log (no evaluated script: the CSP forbids it).
            rows = page.locator("#scim-events tr")
            await rows.nth(2).wait_for(timeout=15_000)
            await replays.entra_provisions_a_user(scim)
            await rows.filter(has_text="POST User · create").first.wait_for(timeout=15_000)
            await shot(page, "scim-live")
            await _finish(page, shot, admin)
        finally:
            await context.close()

        actions = await _audited(admin, link["id"])
        assert LINK_ACTIONS | {"setup_link.scim_token_created"} <= actions, actions
        # The account admin sees on the console's overview what was configured.
        await console_page.goto(f"{mesh.gateway_url}/admin")
        overview = await console_page.text_content("#setups-title + ul") or ""
        await shot(console_page, "console-overview")
        await console.close()
        assert link["id"][:8] in overview
        assert domain in overview
        await _used_link_page(chromium, link["url"], shot)

        context = await chromium.new_context()
        try:
            page = await _sign_in_for_real(context, mesh, email)
            await _oidc_login(page, email)
            await page.wait_for_url(f"{mesh.gateway_url}/me")
            await shot(page, "real-sign-in")
            body = await page.text_content("main") or ""
        finally:
            await context.close()
        assert email in body
        assert "DevOps" in body


async def test_a_saml_setup_against_samlify_runs_to_the_end_and_a_real_sign_in_works(
    chromium: Browser, setup_mesh: Mesh, saml_idp: SamlifyIdp, dns_server: LoopbackDns,
    database_url: str,
) -> None:  # fmt: skip
    shot = Shots("saml")
    mesh = setup_mesh
    async with aiohttp.ClientSession() as http:
        admin, domain = await _admin(mesh, http, unique_name("setup"))
        link = await admin.call("POST", "/setup-links", 201, json={"sso": True})
        email = f"grace.{uuid.uuid4().hex[:6]}@{domain}"
        context = await chromium.new_context()
        page = await context.new_page()
        try:
            await page.goto(link["url"])
            await page.wait_for_url(f"{mesh.gateway_url}/setup")
            await shot(page, "overview")
            await _verify_domain(page, shot, dns_server, domain)
            await page.get_by_role("link", name="Okta (SAML 2.0)").click()
            await page.wait_for_url("**/setup/sso/saml/okta")
            await shot(page, "okta-saml-values")
            acs = (await page.text_content("#paste-0") or "").strip()
            entity_id = (await page.text_content("#paste-1") or "").strip()
            assert acs.endswith("/acs")
            await page.fill("#metadata_url", saml_idp.metadata_url)
            await page.get_by_role("button", name="Check and save").click()
            await page.wait_for_url("**/setup/sso")
            await shot(page, "okta-saml-connected")
            # The IT admin pastes the values into the IdP; samlify reads them as SP metadata.
            async with http.get(entity_id) as response:
                assert response.status == 200
                sp_metadata = await response.text()
            saml_idp.configure(
                sp_metadata, email=email,
                attributes={"email": [email], "firstName": ["Grace"], "lastName": ["Hopper"],
                            "space_name": ["DevOps"], "space_role": ["Wizard"]},
            )  # fmt: skip

            async def at_samlify() -> None:
                await page.get_by_role("button", name="Test sign-in").click()

            result = await _test_sign_in_writes_nothing(
                page, shot, database_url, admin.account_id, at_samlify
            )
            assert "idmesh would create a new user" in result
            assert "DevOps: Space Member" in result  # rule 3: an unknown role
            assert '"Wizard"' in result
            assert "Group Attribute Statements" in result  # no groups attribute: Okta's fix
            await _finish(page, shot, admin)
        finally:
            await context.close()

        assert await _audited(admin, link["id"]) >= LINK_ACTIONS
        context = await chromium.new_context()
        try:
            page = await _sign_in_for_real(context, mesh, email)
            await page.wait_for_url(f"{mesh.gateway_url}/me")
            await shot(page, "real-sign-in")
            body = await page.text_content("main") or ""
        finally:
            await context.close()
        assert email in body
