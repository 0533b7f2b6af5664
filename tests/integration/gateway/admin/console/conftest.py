"""The console in a real browser: Debian's Chromium, headless, driven by Playwright (never a
downloaded browser build), against the in-process stack (real directory, auth and gateway).

One browser for the whole package, one seeded account reused by every test (≥ 250 users,
≥ 60 groups, ≥ 200 login traces, ≥ 500 provisioning events), axe-core from npm
(tests/a11y/package-lock.json, ``npm ci`` once per lock content) injected into the same
Chromium. Screenshots at 1280×800 go to tests/artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from tests.integration.gateway.admin import seed
from tests.integration.gateway.admin.conftest import PASSWORD, Admin, make_admin
from tests.integration.gateway.api.stack import Stack, new_tenant, start_stack

CHROMIUM: Final = "/usr/bin/chromium"
# The flags known to work as root on this kind of machine, as in tests/e2e/oidc.
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ROOT: Final = Path(__file__).resolve().parents[5]
SCREENSHOTS: Final = ROOT / "tests" / "artifacts" / "console"
A11Y: Final = ROOT / "tests" / "a11y"
INSTALLED: Final = Path(CHROMIUM).exists()
VIEWPORT: Final[ViewportSize] = {"width": 1280, "height": 800}
USERS: Final = 260
GROUPS: Final = 65
TRACES: Final = 210
EVENTS: Final = 520
# What axe reports that fails the test (WCAG violations it rates serious or critical).
BLOCKING: Final = ("serious", "critical")


async def _npm_ci() -> None:
    """``npm ci`` in tests/a11y unless node_modules already matches the lock file."""
    lock = A11Y / "package-lock.json"
    stamp = A11Y / "node_modules" / ".idmesh-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is required for the accessibility check (apt: nodejs npm)")
    process = await asyncio.create_subprocess_exec(
        npm, "ci", "--no-audit", "--no-fund", "--loglevel=error",
        cwd=A11Y, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    if process.returncode != 0:
        pytest.fail(f"npm ci failed in {A11Y}:\n{output.decode(errors='replace')}")
    stamp.write_text(digest)


@pytest.fixture(scope="session")
async def axe_source() -> str:
    await _npm_ci()
    return (A11Y / "node_modules" / "axe-core" / "axe.min.js").read_text()


@pytest.fixture(scope="package")
async def chromium() -> AsyncIterator[Browser]:
    if not INSTALLED:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (make test-tools)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@dataclass
class Console:
    """A signed-in browser tab on the seeded account."""

    page: Page
    context: BrowserContext
    browser: Browser
    base: str
    seeded: seed.Seeded
    admin: Admin
    axe: str

    async def goto(self, path: str, *, status: int = 200) -> None:
        response = await self.page.goto(self.base + path)
        assert response is not None
        assert response.status == status, f"{path}: {response.status}"

    @staticmethod
    def shot_path(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS / f"{name}.png"

    async def shot(self, name: str) -> Path:
        """A 1280×800 screenshot of what the browser shows."""
        path = self.shot_path(name)
        await self.page.screenshot(path=str(path))
        return path

    async def violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the current page."""
        return await accessibility_violations(self.page, self.axe)


async def accessibility_violations(page: Page, axe: str) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    await page.evaluate(axe)
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in BLOCKING]


async def sign_in_page(page: Page, base: str, admin: Admin) -> None:
    await page.goto(f"{base}/admin/login")
    await page.get_by_label("Account name").fill(admin.tenant.account.name)
    await page.get_by_label("Email").fill(admin.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/admin")


@pytest.fixture(scope="package")
async def console_stack(database_url: str) -> AsyncIterator[Stack]:
    """A stack of its own on a known port: the browser's Origin must be the gateway's public
    URL (the forms' same-origin check). Package-scoped: its connections to the shared
    PostgreSQL close when the console's tests are done."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    async with start_stack(database_url, port=port) as running:
        yield running


@pytest.fixture(scope="package")
async def seeded(console_stack: Stack, database_url: str) -> seed.Seeded:
    stack = console_stack
    tenant = await new_tenant(stack)
    return await seed.account(
        tenant,
        database_url,
        stack.base_url,
        users_count=USERS,
        groups_count=GROUPS,
        traces_count=TRACES,
        events_count=EVENTS,
    )


@pytest.fixture(scope="package")
async def console(
    console_stack: Stack, chromium: Browser, seeded: seed.Seeded, axe_source: str
) -> AsyncIterator[Console]:
    stack = console_stack
    admin = await make_admin(seeded.tenant)
    context = await chromium.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await sign_in_page(page, stack.base_url, admin)
    yield Console(page, context, chromium, stack.base_url, seeded, admin, axe_source)
    await context.close()
