"""/api/v1/connections on the real auth service: an OIDC connection is created with a
write-only client secret, and answers the values to paste into Okta or Entra."""

from __future__ import annotations

import uuid
from typing import Any

from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair
from tests.integration.gateway.api.stack import Tenant


async def test_an_oidc_connection_is_created_shown_with_its_setup_values_and_deleted(
    tenant: Tenant,
) -> None:
    """The redirect URI and the SCIM base URL to paste into the IdP; the client secret is
    stored (encrypted) and never returned; delete is 204 then 404."""
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    created = await tenant.json(
        "POST",
        "/connections",
        expect=201,
        json={
            "name": "entra",
            "display_name": "Contoso Entra",
            "domains": [domain],
            "vendor": "azure_ad",
            "entra_tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
            "client_secret": "s3cr3t-value",
            "skip_discovery_check": True,
        },
    )
    connection_id = created["id"]
    assert created["protocol"] == "oidc"
    assert created["oidc"]["client_secret_set"] is True
    assert created["oidc"]["issuer"].startswith("https://login.microsoftonline.com/72f988bf")
    assert created["setup"]["redirect_uri"].endswith(f"/sso/oidc/{connection_id}/callback")
    assert created["setup"]["scim_base_url"].endswith("/scim/v2")
    got = await tenant.json("GET", f"/connections/{connection_id}")
    assert got["domains"] == [domain]
    listed = await tenant.json("GET", "/connections")
    assert connection_id in [c["id"] for c in listed["items"]]
    assert "s3cr3t-value" not in str(listed) + str(got) + str(created)
    await tenant.json("DELETE", f"/connections/{connection_id}", expect=204)
    assert (await tenant.request("GET", f"/connections/{connection_id}")).status == 404


async def test_reading_connections_needs_connections_read(tenant: Tenant) -> None:
    """connections:read is enough to read, not to create (403, RFC 9457 problem)."""
    reader = await tenant.token_with(["connections:read"])
    assert (await tenant.request("GET", "/connections", token=reader)).status == 200
    response = await tenant.request(
        "POST",
        "/connections",
        token=reader,
        json={"vendor": "okta", "client_id": "c", "client_secret": "s"},
    )
    assert response.status == 403


async def test_testing_a_connection_reports_an_unreachable_discovery_document(
    tenant: Tenant,
) -> None:
    """POST /connections/{id}:test fetches discovery now and says what is wrong, changing
    nothing: here the IdP cannot be reached; the stored secret is reported as fine."""
    created = await tenant.json(
        "POST",
        "/connections",
        expect=201,
        json={
            "name": "broken",
            "vendor": "generic",
            "issuer": "https://127.0.0.1:9",
            "client_id": "c",
            "client_secret": "s",
            "skip_discovery_check": True,
        },
    )
    report = await tenant.json("POST", f"/connections/{created['id']}:test")
    assert report["ok"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["client_secret"]["ok"] is True
    assert checks["discovery"]["ok"] is False
    assert "127.0.0.1:9" in checks["discovery"]["detail"]


IDP = "https://idp.acme.test/saml/metadata"


async def test_a_saml_connection_is_created_from_metadata_and_tested(tenant: Tenant) -> None:
    """Issue 6: connections CRUD for OIDC and SAML, the values to paste into the IdP (ACS URL,
    SP entity id), and a test that reports on the pinned certificates and the SSO URL."""
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    created = await tenant.json(
        "POST",
        "/connections/saml",
        expect=201,
        json={
            "name": "okta-saml",
            "display_name": "Okta (SAML)",
            "domains": [domain],
            "vendor": "okta",
            "metadata_xml": idp_metadata(IDP, KeyPair.generate(), KeyPair.generate("next")),
        },
    )
    connection_id = created["id"]
    assert created["protocol"] == "saml"
    assert created["saml"]["idp_entity_id"] == IDP
    assert created["saml"]["acs_url"].endswith(f"/sso/saml/{connection_id}/acs")
    assert created["saml"]["sp_entity_id"].endswith(f"/sso/saml/{connection_id}/metadata")
    assert len(created["saml"]["certificates"]) == 2
    assert "metadata_xml" not in created["saml"]
    tested = await tenant.json("POST", f"/connections/{connection_id}:test")
    checks = {check["name"]: check for check in tested["checks"]}
    assert tested["ok"] is True
    assert set(checks) == {"sso_url", "certificates", "sp_key"}
    assert "certificate 2 is valid until" in checks["certificates"]["detail"]


async def test_a_saml_connection_without_any_idp_settings_is_refused(tenant: Tenant) -> None:
    """Bad input gets a 400 naming what is wrong, and nothing is created."""
    before = await tenant.json("GET", "/connections")
    response = await tenant.request(
        "POST", "/connections/saml", json={"name": "empty-saml", "vendor": "generic"}
    )
    assert response.status == 400
    assert (await tenant.json("GET", "/connections"))["items"] == before["items"]


async def _oidc(tenant: Tenant, domain: str) -> dict[str, object]:
    created: dict[str, object] = await tenant.json(
        "POST",
        "/connections",
        expect=201,
        json={
            "name": f"c{uuid.uuid4().hex[:8]}",
            "domains": [domain],
            "vendor": "okta",
            "issuer": "https://acme.okta.example",
            "client_id": "0oa1",
            "client_secret": "s3cr3t",
            "skip_discovery_check": True,
        },
    )
    return created


async def test_a_connection_is_updated_by_merge_patch_under_if_match(tenant: Tenant) -> None:
    """Issue 6 connections CRUD: RFC 7396 merge patch; RFC 9110 §13.1.1 If-Match (412 on a
    stale version, and the stored connection keeps the newer change)."""
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    created = await _oidc(tenant, domain)
    path = f"/connections/{created['id']}"
    got = await tenant.request("GET", path)
    etag = got.headers["ETag"]
    updated = await tenant.json(
        "PATCH",
        path,
        json={"enabled": False, "display_name": "Acme Okta"},
        headers={"If-Match": etag},
    )
    assert (updated["enabled"], updated["display_name"]) == (False, "Acme Okta")
    assert updated["domains"] == [domain]
    stale = await tenant.request("PATCH", path, json={"enabled": True}, headers={"If-Match": etag})
    assert stale.status == 412
    assert (await tenant.json("GET", path))["enabled"] is False


async def test_a_domain_another_connection_serves_cannot_be_taken_by_an_update(
    tenant: Tenant,
) -> None:
    """Home-realm discovery must lead to exactly one connection: 409, nothing changed."""
    first_domain = f"{uuid.uuid4().hex[:8]}.example.com"
    await _oidc(tenant, first_domain)
    second = await _oidc(tenant, f"{uuid.uuid4().hex[:8]}.example.com")
    path = f"/connections/{second['id']}"
    response = await tenant.request("PATCH", path, json={"domains": [first_domain]})
    assert response.status == 409
    assert (await tenant.json("GET", path))["domains"] == second["domains"]


async def test_a_connections_update_mode_is_read_and_changed_through_the_api(
    tenant: Tenant,
) -> None:
    """`profile_update`: first_login (the default, the Torque rule) or every_login, set at
    creation or by merge patch; an unknown mode is a 400 problem that changes nothing, and a
    patch that leaves it out keeps it."""
    created = await _oidc(tenant, f"{uuid.uuid4().hex[:8]}.example.com")
    assert created["profile_update"] == "first_login"
    path = f"/connections/{created['id']}"
    updated = await tenant.json("PATCH", path, json={"profile_update": "every_login"})
    assert updated["profile_update"] == "every_login"
    refused = await tenant.request("PATCH", path, json={"profile_update": "sometimes"})
    assert refused.status == 400
    assert "profile_update" in await refused.text()
    kept = await tenant.json("PATCH", path, json={"display_name": "Okta EU"})
    assert (kept["profile_update"], kept["display_name"]) == ("every_login", "Okta EU")
    assert (await tenant.json("GET", path))["profile_update"] == "every_login"
    every = await tenant.json(
        "POST",
        "/connections",
        expect=201,
        json={
            "name": "every",
            "vendor": "okta",
            "issuer": "https://every.okta.example",
            "client_id": "0oa2",
            "client_secret": "s3cr3t",
            "profile_update": "every_login",
            "skip_discovery_check": True,
        },
    )
    assert every["profile_update"] == "every_login"


async def test_an_oidc_connection_shows_its_logout_uris_and_rp_logout_can_be_switched_off(
    tenant: Tenant,
) -> None:
    """RP-Initiated Logout 1.0 §3 and Back-Channel Logout 1.0 §2.2: the post-logout redirect
    URI and the back-channel logout URI to register are in setup; sign-out going on to the IdP
    is on by default and a merge patch switches it off, leaving the rest as it was."""
    created: dict[str, Any] = await _oidc(tenant, f"{uuid.uuid4().hex[:8]}.example.com")
    base = f"/sso/oidc/{created['id']}"
    assert created["setup"]["post_logout_redirect_uri"].endswith(f"{base}/signed-out")
    assert created["setup"]["backchannel_logout_uri"].endswith(f"{base}/backchannel-logout")
    assert created["setup"]["slo_url"] is None
    assert created["oidc"]["rp_initiated_logout"] is True
    path = f"/connections/{created['id']}"
    updated = await tenant.json("PATCH", path, json={"rp_initiated_logout": False})
    assert updated["oidc"]["rp_initiated_logout"] is False
    assert updated["enabled"] is True
    renamed = await tenant.json("PATCH", path, json={"display_name": "Okta"})
    assert renamed["oidc"]["rp_initiated_logout"] is False
