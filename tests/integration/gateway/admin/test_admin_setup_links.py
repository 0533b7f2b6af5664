"""Setup links on the console: an account admin creates one (its URL once), sees it listed
with its state, and revokes it; both are audited as the admin's doing. SCIM needs
tokens:manage, since the link issues a token."""

from __future__ import annotations

import re

import aiohttp

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.admin.conftest import Admin, sign_in
from tests.integration.gateway.admin.test_admin_pages import csrf_token


async def test_an_admin_creates_lists_and_revokes_a_setup_link(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/setup-links")
    created = await browser.post(
        "/admin/setup-links",
        data={"csrf_token": token, "sso": "1", "scim": "1", "expires_in_days": "1"},
    )
    html = await created.text()
    assert created.status == 200, html
    url = re.search(r'id="setup-link-url">([^<]+)<', html)
    assert url is not None
    assert "/setup/idsl_" in url.group(1)
    assert "single sign-on, SCIM" in html
    listed = await browser.get("/admin/setup-links")
    listed_html = await listed.text()
    assert url.group(1) not in listed_html  # shown once
    link_id = re.search(r'action="/admin/setup-links/([0-9a-f-]{36})/revoke"', listed_html)
    assert link_id is not None
    revoked = await browser.post(
        f"/admin/setup-links/{link_id.group(1)}/revoke", data={"csrf_token": token}
    )
    assert "revoked" in await revoked.text()
    events = await admin.tenant.stack.directory.ListAuditEvents(
        pb.ListAuditEventsRequest(account_id=admin.tenant.id)
    )
    actions = [e.action for e in events.events if e.target_type == "setup_link"]
    assert actions == ["setup_link.created", "setup_link.revoked"]


async def test_a_link_without_anything_to_set_up_is_refused(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/setup-links")
    response = await browser.post("/admin/setup-links", data={"csrf_token": token})
    assert response.status == 400
    assert "Choose what the link may set up." in await response.text()
