"""Issue 13, "What must be shown": every console page in Chromium at 1280×800 with realistic
data, a screenshot of each under tests/artifacts/console/, no serious or critical axe-core
violation on any; paging reaches the last item of every long list; search finds one user."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.admin.console.conftest import (
    EVENTS,
    GROUPS,
    TRACES,
    USERS,
    VIEWPORT,
    Console,
    accessibility_violations,
)


def _pages(console: Console) -> list[tuple[str, str]]:
    seeded = console.seeded
    oidc, saml = seeded.connections
    pending = next(u for u in seeded.users if u.status == pb.USER_STATUS_PENDING)
    return [
        ("10-overview", "/admin"),
        ("20-connections", "/admin/connections"),
        ("21-connection-oidc", f"/admin/connections/{oidc.id}"),
        ("22-connection-saml", f"/admin/connections/{saml.id}"),
        ("23-add-oidc-entra", "/admin/connections/new?protocol=oidc&vendor=azure_ad"),
        ("24-add-oidc-okta", "/admin/connections/new?protocol=oidc&vendor=okta"),
        ("25-add-saml-okta", "/admin/connections/new?protocol=saml&vendor=okta"),
        ("26-remove-connection", f"/admin/connections/{oidc.id}/remove"),
        ("30-users", "/admin/users"),
        ("31-users-deactivated", "/admin/users?status=deactivated"),
        ("32-user-with-two-role-sources", f"/admin/users/{seeded.users[1].id}"),
        ("33-user-pending", f"/admin/users/{pending.id}"),
        ("40-groups", "/admin/groups"),
        ("41-group", f"/admin/groups/{seeded.groups[0].id}"),
        ("50-traces", "/admin/traces"),
        ("51-traces-failures", "/admin/traces?outcome=failure"),
        ("52-trace", f"/admin/traces/{seeded.trace_ids[0]}"),
        ("60-provisioning", "/admin/provisioning"),
        ("61-provisioning-rejected", "/admin/provisioning?outcome=rejected"),
        ("62-provisioning-event", f"/admin/provisioning/{seeded.event_ids[0]}"),
        ("70-credentials", "/admin/credentials"),
        ("80-me", "/me"),
    ]


async def test_every_console_page_renders_is_screenshotted_and_passes_axe(
    console: Console,
) -> None:
    """Each page: 200, one h1, a screenshot at 1280×800, and axe-core (WCAG 2.x rules) finds
    nothing serious or critical."""
    failures = {}
    for name, path in _pages(console):
        await console.goto(path)
        assert await console.page.locator("h1").count() == 1, path
        await console.shot(name)
        if found := await console.violations():
            failures[path] = found
    assert not failures, failures


async def test_the_sign_in_pages_pass_axe_and_are_screenshotted(console: Console) -> None:
    """The sign-in pages share the layout: /login, the account's buttons, the admin sign-in
    and the uniform error page."""
    context = await console.browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    oidc = console.seeded.connections[0]
    name = console.seeded.tenant.account.name
    failures = {}
    try:
        for shot, path, status in (
            ("01-sign-in", "/login", 200),
            ("02-sign-in-account", f"/login?account={name}", 200),
            ("03-admin-sign-in", "/admin/login", 200),
            ("04-sign-in-error", f"/sso/oidc/{oidc.id}/callback?state=forged&code=x", 403),
        ):
            response = await page.goto(console.base + path)
            assert response is not None
            assert response.status == status, path
            await page.screenshot(path=str(console.shot_path(shot)))
            if found := await accessibility_violations(page, console.axe):
                failures[path] = found
    finally:
        await context.close()
    assert not failures, failures


async def _walk(console: Console, path: str, row_link: str) -> list[str]:
    """The id in every row's link, following "Next page" to the end."""
    seen: list[str] = []
    await console.goto(path)
    while True:
        links = console.page.locator(f"tbody th a[href^='{row_link}']")
        seen += [
            (await link.get_attribute("href") or "").removeprefix(row_link)
            for link in await links.all()
        ]
        following = console.page.get_by_role("link", name="Next page")
        if not await following.count():
            return seen
        await following.click()
        await console.page.wait_for_load_state()


def _seeded_ids(console: Console, kind: str) -> set[str]:
    seeded = console.seeded
    return {
        "users": {u.id for u in seeded.users} | {console.admin.user.id},
        "groups": {g.id for g in seeded.groups},
        "traces": set(seeded.trace_ids),
        "provisioning": set(seeded.event_ids),
    }[kind]


@pytest.mark.parametrize("kind", ["users", "groups", "traces", "provisioning"])
async def test_paging_reaches_the_last_item(console: Console, kind: str) -> None:
    """Issue 13: every list pages with the API's page tokens, to the last item, each once
    (other tests may add a few items of their own meanwhile)."""
    seen = await _walk(console, f"/admin/{kind}", f"/admin/{kind}/")
    assert len(seen) == len(set(seen)), "an item was listed twice"
    expected = _seeded_ids(console, kind)
    assert expected <= set(seen), f"{len(expected - set(seen))} never listed"
    assert len(expected) >= {"users": USERS, "groups": GROUPS, "traces": TRACES}.get(kind, EVENTS)


async def test_live_search_finds_one_user(console: Console) -> None:
    """Typing in the search box narrows the table (search.js fetches the page, no reload)."""
    wanted = console.seeded.users[137]
    await console.goto("/admin/users")
    await console.page.get_by_label("Search").fill(wanted.user_name)
    rows = console.page.locator("#results tbody tr")
    await expect(rows).to_have_count(1)
    assert (await rows.first.locator("th a").text_content()) == wanted.user_name
    assert re.search(r"q=", console.page.url)
    await console.shot("34-users-search")
