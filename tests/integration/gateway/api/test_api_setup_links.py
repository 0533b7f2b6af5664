"""/api/v1/setup-links: an account admin creates a link for a customer's IT admin (its URL once,
on the public URL), lists and revokes it; both are in the audit log with the token that did
them. A link that sets up SCIM issues a token, so it needs tokens:manage as well."""

from __future__ import annotations

from tests.integration.gateway.api.stack import Tenant


async def test_a_link_is_created_with_its_url_once_and_revoked_both_audited(
    tenant: Tenant,
) -> None:
    created = await tenant.json("POST", "/setup-links", expect=201,
                                json={"sso": True, "scim": True})  # fmt: skip
    assert "/setup/idsl_" in created["url"]  # on PUBLIC_URL
    assert created["status"] == "active"
    assert (created["sso"], created["scim"], created["domains"]) == (True, True, True)
    listed = await tenant.json("GET", "/setup-links")
    assert [link["id"] for link in listed["items"]] == [created["id"]]
    assert "url" not in listed["items"][0]
    await tenant.json("DELETE", f"/setup-links/{created['id']}", expect=204)
    revoked = await tenant.json("GET", f"/setup-links/{created['id']}")
    assert revoked["status"] == "revoked"
    events = await tenant.json("GET", "/audit-events?page_size=100&order=newest_first")
    setup = [e for e in events["items"] if e["target_type"] == "setup_link"]
    assert [e["action"] for e in setup] == ["setup_link.revoked", "setup_link.created"]
    assert {e["actor"]["type"] for e in setup} == {"admin_api"}
    assert {e["target_id"] for e in setup} == {created["id"]}


async def test_a_scim_link_needs_tokens_manage_and_a_link_must_set_something_up(
    tenant: Tenant,
) -> None:
    token = await tenant.token_with(["connections:manage"])
    refused = await tenant.request("POST", "/setup-links", token=token, json={"scim": True})
    assert refused.status == 403
    assert "tokens:manage" in (await refused.json())["detail"]
    sso_only = await tenant.request("POST", "/setup-links", token=token, json={"sso": True})
    assert sso_only.status == 201
    empty = await tenant.request("POST", "/setup-links", json={})
    assert empty.status == 400
    too_long = await tenant.request(
        "POST", "/setup-links", json={"sso": True, "expire_time": "2099-01-01T00:00:00Z"}
    )
    assert too_long.status == 400
