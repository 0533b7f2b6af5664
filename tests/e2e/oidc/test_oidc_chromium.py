"""The real sign-in page in a real browser: Debian's Chromium, headless, driven by Playwright
(never a downloaded browser build: docs/real-idps.md §6-7), through the gateway and the
OpenID-certified oidc-provider, with the keyboard only.

Screenshots of the pages go to the test's tmp folder (and tests/artifacts/ when it exists).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from infra.dev.mesh import Mesh
from tests.e2e.oidc.helpers import OidcTenant, OidcTenantFactory, fresh_user, login_traces
from tests.idps.oidc.provider import OidcProvider

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# The flags known to work as root on this kind of machine (python-svc.md "Known to work").
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
INSTALLED = Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    if not INSTALLED:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def _shot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if ARTIFACTS.is_dir():
        shutil.copy(path, ARTIFACTS / path.name)


async def test_a_person_signs_in_from_the_sign_in_page_with_the_keyboard(
    chromium: Browser,
    sso_mesh: Mesh,
    oidc_provider: OidcProvider,
    oidc_tenant: OidcTenantFactory,
    tmp_path: Path,
) -> None:
    """/login focuses the email field; typing the corporate email and Enter routes to the IdP
    (home-realm discovery); the IdP's login and consent; back on /me, signed in."""
    tenant: OidcTenant = await oidc_tenant()
    user = fresh_user()
    email = f"{user}@{tenant.domain}"
    oidc_provider.set_user(email, name="Grace Hopper", given_name="Grace", family_name="Hopper")
    context = await chromium.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{sso_mesh.gateway_url}/login")
        assert await page.evaluate("document.documentElement.lang") == "en"
        assert await page.evaluate("document.activeElement.id") == "email"
        label = await page.get_by_label("Work email").get_attribute("type")
        assert label == "email"
        await _shot(page, tmp_path, "sso-login-page")
        await page.keyboard.type(email)
        await page.keyboard.press("Enter")
        # oidc-provider's dev login form: the login is pre-filled from login_hint.
        await page.wait_for_selector("input[name=password]")
        assert await page.input_value("input[name=login]") == email
        await page.fill("input[name=password]", "any-password")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("button[type=submit]")
        await page.click("button[type=submit]")  # consent
        await page.wait_for_url(f"{sso_mesh.gateway_url}/me")
        heading = await page.text_content("h1")
        body = await page.text_content("main")
        await _shot(page, tmp_path, "sso-me-page")
        cookies = {c["name"]: c for c in await context.cookies(sso_mesh.gateway_url)}
    finally:
        await context.close()
    assert heading == "Your account"
    assert body is not None
    assert "Grace Hopper" in body
    assert email in body
    session = cookies["idmesh_session"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Lax"
    (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
    assert trace.email == email


async def test_a_failed_sign_in_shows_the_uniform_page_with_its_trace_id(
    chromium: Browser, sso_mesh: Mesh, oidc_tenant: OidcTenantFactory, tmp_path: Path
) -> None:
    """A callback the browser did not start: the same clear page for every failure, the trace
    id to quote, a way back, and nothing about the reason."""
    tenant: OidcTenant = await oidc_tenant()
    context = await chromium.new_context()
    page = await context.new_page()
    try:
        response = await page.goto(
            f"{sso_mesh.gateway_url}/sso/oidc/{tenant.connection_id}/callback?state=forged&code=x"
        )
        assert response is not None
        assert response.status == 403
        alert = await page.get_by_role("alert").text_content()
        reference = await page.text_content("#trace-id")
        await _shot(page, tmp_path, "sso-error-page")
        back = await page.get_by_role("link", name="Back to sign-in").get_attribute("href")
    finally:
        await context.close()
    assert alert is not None
    assert "could not be completed" in alert
    assert "state" not in alert
    (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
    assert trace.reason == "state_unknown"
    assert reference == trace.trace_id
    assert back == "/login"
