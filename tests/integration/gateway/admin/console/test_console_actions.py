"""Issue 13, "What must be shown": each action through the console in Chromium, checked
afterwards through the API (``/api/v1`` with the account's token): add, test, disable and
remove a connection; create a group and add a member; create and revoke a token; deactivate
a user. Each form confirms its success on the page it lands on."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from tests.integration.gateway.admin.console.conftest import Console


async def test_an_oidc_connection_is_added_disabled_and_removed_through_the_console(
    console: Console,
) -> None:
    page, tenant = console.page, console.seeded.tenant
    await console.goto("/admin/connections/new?protocol=oidc&vendor=okta")
    await page.get_by_label("Name", exact=True).fill("okta-oidc")
    await page.get_by_label("Button label (Sign in with …)").fill("Okta OIDC")
    await page.get_by_label("Okta domain (Issuer)").fill("https://acme.okta.com")
    await page.get_by_label("Client ID").fill("0oa1b2c3d4e5f6g7h8i9")
    await page.get_by_label("Client secret").fill("client-secret-from-okta")
    await page.get_by_label("Check the issuer's discovery document now").uncheck()
    await page.get_by_role("button", name="Add connection").click()
    await expect(page.get_by_role("status")).to_contain_text("The connection was added.")
    await console.shot("90-connection-added")
    connection_id = page.url.split("/admin/connections/")[1].split("?")[0]
    redirect_uri = await page.locator("#redirect-uri").text_content()
    assert redirect_uri == f"{console.base}/sso/oidc/{connection_id}/callback"
    assert "client-secret-from-okta" not in await page.content()
    made = await tenant.json("GET", f"/connections/{connection_id}")
    assert (made["name"], made["oidc"]["client_id"], made["enabled"]) == (
        "okta-oidc",
        "0oa1b2c3d4e5f6g7h8i9",
        True,
    )
    assert made["oidc"]["client_secret_set"] is True

    await page.get_by_role("button", name="Disable").click()
    await expect(page.get_by_role("status")).to_contain_text("The connection is disabled")
    assert (await tenant.json("GET", f"/connections/{connection_id}"))["enabled"] is False

    await page.get_by_role("link", name="Remove").click()
    await page.get_by_label("Type okta-oidc to confirm").fill("okta")
    await page.get_by_role("button", name="Remove connection").click()
    await expect(page.locator("#confirm-error")).to_have_text("Type okta-oidc to confirm.")
    await console.shot("91-remove-needs-the-name")
    await page.get_by_label("Type okta-oidc to confirm").fill("okta-oidc")
    await page.get_by_role("button", name="Remove connection").click()
    await expect(page.get_by_role("status")).to_have_text("The connection was removed.")
    assert (await tenant.request("GET", f"/connections/{connection_id}")).status == 404


async def test_testing_a_connection_shows_each_check_as_the_api_reports_it(
    console: Console,
) -> None:
    """The SAML connection's test: its certificate (expiring in 20 days), its SSO URL."""
    saml = console.seeded.connections[1]
    await console.goto(f"/admin/connections/{saml.id}")
    await console.page.get_by_role("button", name="Test connection").click()
    result = console.page.locator("section", has=console.page.locator("#test-result"))
    await expect(result).to_be_visible()
    await console.shot("92-connection-tested")
    shown = await result.locator("li strong").all_text_contents()
    reported = await console.seeded.tenant.json("POST", f"/connections/{saml.id}:test")
    assert shown == [check["name"] for check in reported["checks"]]
    verdict = "passed" if reported["ok"] else "failed"
    assert verdict in (await console.page.locator("#test-result").text_content() or "")


async def test_a_group_is_created_and_given_a_member_through_the_console(
    console: Console,
) -> None:
    page, tenant = console.page, console.seeded.tenant
    member = console.seeded.users[42]
    await console.goto("/admin/groups")
    await page.get_by_text("Create a group").click()
    await page.get_by_label("Name", exact=True).fill("Release Managers")
    await page.get_by_label("IdP identifier (optional)").fill(
        "e7b5a3c1-7d2f-4e8a-9c1b-2f3e4d5c6b7a"
    )
    await page.get_by_role("button", name="Create group").click()
    await expect(page.get_by_role("status")).to_have_text("The group was created.")
    group_id = page.url.split("/admin/groups/")[1].split("?")[0]
    made = await tenant.json("GET", f"/groups/{group_id}")
    assert made["display_name"] == "Release Managers"
    assert made["idp_identifier"] == "e7b5a3c1-7d2f-4e8a-9c1b-2f3e4d5c6b7a"

    await page.get_by_label("Add a member by userName").fill("nobody@example.com")
    await page.get_by_role("button", name="Add member").click()
    await expect(page.locator("#user_name-error")).to_have_text(
        "No user is called nobody@example.com."
    )
    await page.get_by_label("Add a member by userName").fill(member.user_name)
    await page.get_by_role("button", name="Add member").click()
    await expect(page.get_by_role("status")).to_have_text("The member was added.")
    await console.shot("93-group-member-added")
    members = await tenant.json("GET", f"/groups/{group_id}/members")
    assert [m["user_id"] for m in members["items"]] == [member.id]


async def test_a_duplicate_idp_identifier_names_the_other_group_next_to_the_field(
    console: Console,
) -> None:
    """Issue 13: "the conflicting group named"."""
    mapped = console.seeded.groups[1]  # every other seeded group has an identifier
    await console.goto(f"/admin/groups/{console.seeded.groups[2].id}")
    await console.page.get_by_role("textbox", name="IdP identifier").fill(mapped.idp_identifier)
    await console.page.get_by_role("button", name="Save").click()
    error = console.page.locator("#idp_identifier-error")
    await expect(error).to_have_text(
        f"Another group already has this identifier: {mapped.display_name}."
    )
    await console.shot("94-group-identifier-conflict")


async def test_a_token_is_created_shown_once_and_revoked_through_the_console(
    console: Console,
) -> None:
    page, tenant = console.page, console.seeded.tenant
    await console.goto("/admin/credentials")
    await page.get_by_text("Create a token or an OAuth client").click()
    await page.get_by_label("Description").fill("Okta provisioning")
    await page.get_by_label("users:manage").check()
    await page.get_by_label("groups:manage").check()
    await page.get_by_role("button", name="Create", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Copy its secret now")
    secret = await page.locator("#new-secret").text_content()
    assert secret is not None
    assert secret.startswith("idm_")
    await expect(page.get_by_role("button", name="Copy the secret")).to_be_visible()
    await console.shot("95-token-created")
    # The secret works (it may read users, not tokens); its id is the middle part.
    assert (await tenant.request("GET", "/users", token=secret)).status == 200
    assert (await tenant.request("GET", "/tokens", token=secret)).status == 403
    token_id = str(uuid.UUID(secret.split("_")[1]))
    made = await tenant.json("GET", f"/tokens/{token_id}")
    assert (made["description"], made["revoke_time"]) == ("Okta provisioning", None)

    row = page.locator("tr", has_text="Okta provisioning")
    await row.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("status")).to_have_text(
        "The credential was revoked: it no longer works."
    )
    revoked = await tenant.json("GET", f"/tokens/{token_id}")
    assert revoked["revoke_time"] is not None


async def test_a_user_is_deactivated_and_reactivated_through_the_console(
    console: Console,
) -> None:
    page, tenant = console.page, console.seeded.tenant
    user = console.seeded.users[5]
    await console.goto(f"/admin/users/{user.id}")
    await page.get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_have_text("The user is deactivated.")
    await console.shot("96-user-deactivated")
    assert (await tenant.json("GET", f"/users/{user.id}"))["active"] is False
    await page.get_by_role("button", name="Reactivate").click()
    await expect(page.get_by_role("status")).to_have_text("The user is active again.")
    assert (await tenant.json("GET", f"/users/{user.id}"))["active"] is True
