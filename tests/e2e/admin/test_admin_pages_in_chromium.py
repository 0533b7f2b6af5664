"""The admin pages (issue 6) in a real browser: Debian's Chromium, headless, driven by
Playwright (never a downloaded browser build: docs/real-idps.md §6-7), against the real
processes. A bootstrap admin made by ``idmesh admin create`` signs in, adds an OIDC connection,
sets a group's IdP identifier (Torque guide, Groups page), and reads the trace of a failed login
instead of decoding an id_token by hand (Torque guide, debugging).

Screenshots of each step go to tests/artifacts/screenshots/ (gitignored) and the test's tmp
folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import create_account, run_cli, unique_name

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# The flags known to work as root on this kind of machine (python-svc.md "Known to work"),
# as in tests/e2e/oidc/test_oidc_chromium.py.
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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
INSTALLED = Path(CHROMIUM).exists()
PASSWORD = "a long bootstrap password"
ENTRA_OBJECT_ID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


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


@pytest.fixture(scope="module")
async def admin_mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    """The real processes; auth seals a connection's client secret with the mesh's
    IDMESH_ENCRYPTION_KEY."""
    mesh = await start_mesh(database_url, otlp_receiver, tmp_path_factory.mktemp("admin-mesh"))
    yield mesh
    await mesh.stop()


async def _shot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"admin-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)


async def _create_group(mesh: Mesh, account_id: str, name: str) -> str:
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        response = await stub.CreateGroup(
            directory_pb2.CreateGroupRequest(
                group=directory_pb2.Group(account_id=account_id, display_name=name),
                actor=directory_pb2.Actor(
                    type=directory_pb2.ACTOR_TYPE_SYSTEM, id="e2e", display_name="e2e tests"
                ),
            )
        )
    return response.group.id


async def test_an_admin_configures_sso_and_reads_a_failed_logins_trace_in_chromium(
    chromium: Browser, admin_mesh: Mesh, tmp_path: Path
) -> None:
    """Issue 6, end to end: ``idmesh admin create`` (password on stdin), sign-in on
    /admin/login, an OIDC connection added through the form, the Torque guide's "IdP
    identifier" set on a group's page, and a failed login (a forged callback state) read on
    /admin/traces with its outcome, reason and stage."""
    name = unique_name("admin")
    account_id = await create_account(admin_mesh, name)
    email = f"boss@{name}.example.com"
    await run_cli(
        admin_mesh, "admin", "create", "--account", name, "--email", email, stdin=PASSWORD + "\n"
    )
    group_id = await _create_group(admin_mesh, account_id, "Engineering")
    base = admin_mesh.gateway_url
    context = await chromium.new_context()
    page = await context.new_page()
    try:
        # Any admin page without a session leads to the sign-in.
        await page.goto(f"{base}/admin/groups")
        assert page.url == f"{base}/admin/login"
        assert await page.evaluate("document.documentElement.lang") == "en"
        assert await page.get_by_role("link", name="Sign in with SSO").get_attribute("href") == (
            "/login"
        )
        await page.get_by_label("Account name").fill(name)
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await _shot(page, tmp_path, "1-sign-in")
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base}/admin")
        assert await page.text_content("h1") == "Overview"
        await _shot(page, tmp_path, "2-home")

        # An OIDC connection through the form (no discovery fetch: the issuer is fictitious).
        await page.get_by_role("link", name="Connections").first.click()
        await page.wait_for_url(f"{base}/admin/connections")
        await page.get_by_role("link", name="Add OIDC connection").click()
        await page.get_by_label("Name", exact=True).fill("okta")
        await page.get_by_label("Button label (Sign in with …)").fill("Okta")
        await page.get_by_label("Okta domain (Issuer)").fill("https://example.okta.com")
        await page.get_by_label("Client ID").fill("0oa1b2c3d4")
        await page.get_by_label("Client secret").fill("client-secret-from-okta")
        await page.get_by_label("Check the issuer's discovery document now").uncheck()
        await page.get_by_role("button", name="Add connection").click()
        await page.wait_for_url(f"{base}/admin/connections/*?note=added")
        connections = await page.text_content("main") or ""
        await _shot(page, tmp_path, "3-connections")
        assert f"{base}/scim/v2" in connections
        assert "client-secret-from-okta" not in connections
        redirect_uri = await page.locator("#redirect-uri").text_content()
        assert redirect_uri is not None
        assert redirect_uri.startswith(f"{base}/sso/oidc/")
        connection_id = redirect_uri.removeprefix(f"{base}/sso/oidc/").split("/")[0]

        # The group's IdP identifier (Torque guide: the Groups page's "IdP identifier").
        await page.goto(f"{base}/admin/groups")
        await page.get_by_role("link", name="Engineering").click()
        await page.wait_for_url(f"{base}/admin/groups/{group_id}")
        await page.get_by_role("textbox", name="IdP identifier").fill(ENTRA_OBJECT_ID)
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_url(f"{base}/admin/groups/{group_id}?note=saved")
        await _shot(page, tmp_path, "4-group-saved")
        await page.goto(f"{base}/admin/groups")
        groups = await page.text_content("table") or ""
        await _shot(page, tmp_path, "5-groups")
        assert ENTRA_OBJECT_ID in groups

        # A failed login: a callback this browser did not start (a forged state).
        failed = await context.new_page()
        response = await failed.goto(
            f"{base}/sso/oidc/{connection_id}/callback?state=forged&code=x"
        )
        assert response is not None
        assert response.status == 403
        await failed.close()
        await page.goto(f"{base}/admin/traces")
        await page.locator("tbody th a").first.click()
        await page.wait_for_url(f"{base}/admin/traces/*")
        facts = await page.text_content("main") or ""
        await _shot(page, tmp_path, "6-traces")
    finally:
        await context.close()
    assert "failure" in facts
    assert "state_unknown" in facts
