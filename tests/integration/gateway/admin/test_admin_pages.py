"""The admin pages (issue 6) on the real directory and auth: the local password sign-in with
its rate limits, sessions and permissions on every page, CSRF synchronizer tokens on every form
(OWASP CSRF Prevention Cheat Sheet), and the Groups page's IdP identifier (Torque guide)."""

from __future__ import annotations

import re

import aiohttp
import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.admin.conftest import (
    Admin,
    account_role,
    make_admin,
    new_browser,
    sign_in,
)
from tests.integration.gateway.api.stack import Stack, Tenant, new_tenant

ENTRA_OBJECT_ID = "5d2f6c3a-9b1e-4f7a-8c2d-3e4f5a6b7c8d"
PAGES = (
    "/admin",
    "/admin/connections",
    "/admin/groups",
    "/admin/users",
    "/admin/traces",
    "/admin/provisioning",
)


async def csrf_token(browser: aiohttp.ClientSession, path: str) -> str:
    response = await browser.get(path)
    assert response.status == 200, await response.text()
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', await response.text())
    assert match, "the page has no CSRF token"
    return match.group(1)


async def idp_identifier(tenant: Tenant, group_id: str) -> str:
    stored = await tenant.stack.directory.GetGroup(
        pb.GetGroupRequest(account_id=tenant.id, group_id=group_id)
    )
    return stored.group.idp_identifier


async def test_an_admin_signs_in_with_the_local_password_and_reaches_every_page(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Issue 6: a bootstrap admin (``idmesh admin create``) signs in on /admin/login with
    account, email and password, gets the SSO session cookie, and every page renders."""
    response = await sign_in(browser, admin)
    assert response.status == 303
    assert response.headers["Location"] == "/admin"
    assert "idmesh_session" in response.cookies
    for path in PAGES:
        page = await browser.get(path, allow_redirects=False)
        text = await page.text()
        assert page.status == 200, f"{path}: {page.status} {text}"
        assert '<html lang="en">' in text
        assert admin.email in text
    me = await browser.get("/me")
    assert admin.email in await me.text()


async def test_the_sign_in_page_offers_sso_and_labels_every_field(
    browser: aiohttp.ClientSession,
) -> None:
    """Issue 6: a "Sign in with SSO" link to /login; an accessible form (a label per input)."""
    text = await (await browser.get("/admin/login")).text()
    assert '<a href="/login">Sign in with SSO</a>' in text
    for field in ("account", "email", "password"):
        assert f'<label for="{field}">' in text
        assert f'id="{field}"' in text


async def test_a_wrong_password_and_an_unknown_account_fail_alike(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """OWASP Authentication Cheat Sheet: one generic message and no session, whether the
    password or the account is wrong."""
    wrong = await sign_in(browser, admin, password="not the right password")
    unknown = await browser.post(
        "/admin/login",
        data={"account": "no-such-account", "email": admin.email, "password": "whatever12345"},
    )
    assert wrong.status == unknown.status == 401
    assert "The account, email or password is not right." in await wrong.text()
    assert "The account, email or password is not right." in await unknown.text()
    assert "idmesh_session" not in wrong.cookies
    assert (await browser.get("/admin", allow_redirects=False)).status == 303


async def test_the_sixth_attempt_in_a_minute_is_refused_with_429(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Issue 6: at most 5 sign-in attempts a minute per account and email; then 429 with
    Retry-After, even with the right password."""
    for _ in range(5):
        assert (await sign_in(browser, admin, password="wrong password!")).status == 401
    refused = await sign_in(browser, admin)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "idmesh_session" not in refused.cookies


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_without_a_session_redirects_to_the_admin_sign_in(
    browser: aiohttp.ClientSession, path: str
) -> None:
    """Issue 6: every admin page needs a session."""
    response = await browser.get(path, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/admin/login"


async def test_a_form_post_without_a_session_changes_nothing(
    browser: aiohttp.ClientSession, tenant: Tenant
) -> None:
    """Issue 6: no session, no change: the POST is sent to the sign-in."""
    group = await tenant.group()
    response = await browser.post(
        f"/admin/groups/{group.id}", data={"idp_identifier": "x"}, allow_redirects=False
    )
    assert (response.status, response.headers["Location"]) == (303, "/admin/login")
    assert await idp_identifier(tenant, group.id) == ""


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("/admin/users", "users:read"),
        ("/admin/groups", "groups:read"),
        ("/admin/connections", "connections:read"),
        ("/admin/traces", "audit:read"),
        ("/admin/provisioning", "audit:read"),
    ],
)
async def test_a_page_without_its_permission_answers_403(
    browser: aiohttp.ClientSession, tenant: Tenant, path: str, permission: str
) -> None:
    """Issue 6: the account role's permissions decide; a role with everything but the page's
    permission gets the 403 error page."""
    everything = {"users:read", "groups:read", "connections:read", "audit:read"}
    limited = await make_admin(tenant, await account_role(tenant, everything - {permission}))
    assert (await sign_in(browser, limited)).status == 303
    response = await browser.get(path, allow_redirects=False)
    text = await response.text()
    assert response.status == 403, text
    assert 'role="alert"' in text
    assert "Not allowed" in text


async def test_reading_groups_does_not_allow_editing_them(
    browser: aiohttp.ClientSession, tenant: Tenant
) -> None:
    """Issue 6: setting the IdP identifier needs groups:manage."""
    reader = await make_admin(tenant, await account_role(tenant, {"groups:read"}))
    group = await tenant.group()
    await sign_in(browser, reader)
    token = await csrf_token(browser, f"/admin/groups/{group.id}")
    response = await browser.post(
        f"/admin/groups/{group.id}",
        data={"csrf_token": token, "idp_identifier": ENTRA_OBJECT_ID, "version": group.version},
    )
    assert response.status == 403
    assert await idp_identifier(tenant, group.id) == ""


async def test_setting_a_groups_idp_identifier_on_its_page_saves_it(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Torque guide, Groups page: the admin sets the group's "IdP identifier" (an Entra object
    id); the list shows it and the directory stores it."""
    group = await admin.tenant.group("Engineering")
    await sign_in(browser, admin)
    token = await csrf_token(browser, f"/admin/groups/{group.id}")
    response = await browser.post(
        f"/admin/groups/{group.id}",
        data={"csrf_token": token, "idp_identifier": ENTRA_OBJECT_ID, "version": group.version},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/admin/groups/{group.id}?note=saved"
    assert await idp_identifier(admin.tenant, group.id) == ENTRA_OBJECT_ID
    listing = await (await browser.get("/admin/groups")).text()
    assert ENTRA_OBJECT_ID in listing
    assert "Engineering" in listing


async def test_a_duplicate_idp_identifier_is_shown_as_an_error_on_the_form(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Directory rule: an identifier maps one group of the account (409, nothing saved)."""
    await admin.tenant.group("Mapped", idp_identifier=ENTRA_OBJECT_ID)
    other = await admin.tenant.group("Other")
    await sign_in(browser, admin)
    token = await csrf_token(browser, f"/admin/groups/{other.id}")
    response = await browser.post(
        f"/admin/groups/{other.id}",
        data={"csrf_token": token, "idp_identifier": ENTRA_OBJECT_ID, "version": other.version},
    )
    assert response.status == 409
    assert "Another group already has this identifier: Mapped." in await response.text()
    assert await idp_identifier(admin.tenant, other.id) == ""


@pytest.mark.parametrize(
    "sent",
    [{}, {"csrf_token": ""}, {"csrf_token": "0" * 64}],
    ids=["missing", "empty", "wrong"],
)
async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    browser: aiohttp.ClientSession, admin: Admin, sent: dict[str, str]
) -> None:
    """OWASP CSRF Prevention Cheat Sheet, synchronizer token pattern: every state-changing
    POST carries the session's token; without it, 403 with the error page and no change."""
    group = await admin.tenant.group()
    await sign_in(browser, admin)
    response = await browser.post(
        f"/admin/groups/{group.id}",
        data={**sent, "idp_identifier": ENTRA_OBJECT_ID, "version": str(group.version)},
    )
    assert response.status == 403
    assert "Not allowed" in await response.text()
    assert await idp_identifier(admin.tenant, group.id) == ""


async def test_another_sessions_csrf_token_is_refused(
    stack: Stack, browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """OWASP CSRF Prevention Cheat Sheet: the token is bound to the session, so one taken
    from another session (even of the same user) does not work."""
    group = await admin.tenant.group()
    async with new_browser(stack) as other:
        await sign_in(other, admin)
        foreign = await csrf_token(other, "/admin")
    await sign_in(browser, admin)
    response = await browser.post(
        f"/admin/groups/{group.id}",
        data={"csrf_token": foreign, "idp_identifier": "x", "version": str(group.version)},
    )
    assert response.status == 403
    assert await idp_identifier(admin.tenant, group.id) == ""


async def test_a_cross_site_post_with_a_valid_token_is_refused(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """OWASP CSRF Prevention Cheat Sheet, "Verifying Origin With Standard Headers": the
    sign-in pages' Origin check applies to the admin forms too."""
    group = await admin.tenant.group()
    await sign_in(browser, admin)
    token = await csrf_token(browser, f"/admin/groups/{group.id}")
    response = await browser.post(
        f"/admin/groups/{group.id}",
        data={"csrf_token": token, "idp_identifier": "x", "version": str(group.version)},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403
    assert await idp_identifier(admin.tenant, group.id) == ""


async def test_another_accounts_group_answers_404(
    stack: Stack, browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Tenant isolation: a group id of another account is not found, to read or to change."""
    other = await new_tenant(stack)
    foreign = await other.group("Theirs")
    await sign_in(browser, admin)
    assert (await browser.get(f"/admin/groups/{foreign.id}")).status == 404
    assert (await browser.get("/admin/groups/not-a-uuid")).status == 404
    token = await csrf_token(browser, "/admin/groups")
    response = await browser.post(
        f"/admin/groups/{foreign.id}",
        data={"csrf_token": token, "idp_identifier": "x", "version": str(foreign.version)},
    )
    assert response.status == 404
    assert await idp_identifier(other, foreign.id) == ""


async def test_an_oidc_connection_is_added_and_shows_what_to_paste_into_the_idp(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Issue 6: the connections page adds an OIDC connection with the API's auth RPC and
    shows the redirect URI and the SCIM base URL to paste into Okta or Entra; never the
    client secret."""
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/connections")
    form = {
        "csrf_token": token,
        "name": "okta",
        "display_name": "Okta",
        "issuer": "https://example.okta.com",
        "client_id": "0oa1b2c3",
        "client_secret": "very-secret-value",
        "vendor": "okta",
        "domain": "",
    }
    response = await browser.post("/admin/connections", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert location.startswith("/admin/connections/")
    assert location.endswith("?note=added")
    page = await (await browser.get(location)).text()
    assert "The connection was added." in page
    assert "/scim/v2" in page
    assert "/callback" in page
    assert "Sign-in redirect URIs" in page  # Okta's own name for it
    assert "very-secret-value" not in page
    listing = await (await browser.get("/admin/connections")).text()
    assert "Okta" in listing
    assert "very-secret-value" not in listing
    duplicate = await browser.post("/admin/connections", data=form)
    assert duplicate.status in (400, 409)
    text = await duplicate.text()
    assert 'role="alert"' in text
    assert 'class="error" id="name-error"' in text  # next to the field it is about


async def test_signing_out_ends_the_session(browser: aiohttp.ClientSession, admin: Admin) -> None:
    """Issue 6: /admin/logout ends the session in auth (with the form's CSRF token): the old
    cookie no longer opens a page."""
    response = await sign_in(browser, admin)
    old = response.cookies["idmesh_session"].value
    token = await csrf_token(browser, "/admin")
    response = await browser.post(
        "/admin/logout", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.headers["Location"] == "/admin/login?signed_out=1"
    again = await browser.get("/admin", allow_redirects=False, cookies={"idmesh_session": old})
    assert again.status == 303
