"""The console's forms without a browser: SAML from fields, a domain claimed with its TXT
record, a connection's domains edited, errors next to their field; and the pages' code comes
only from the gateway's own files (the CSP allows nothing inline)."""

from __future__ import annotations

import re

import aiohttp

from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair
from tests.integration.gateway.admin import seed
from tests.integration.gateway.admin.conftest import Admin, sign_in
from tests.integration.gateway.admin.test_admin_pages import csrf_token


async def test_a_saml_connection_is_added_from_fields_and_shows_the_sp_values(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Issue 13: SAML "from metadata URL/file or fields", in the words of the vendor's console
    (Entra: Identifier (Entity ID), Reply URL)."""
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/connections/new?protocol=saml&vendor=azure_ad")
    form = aiohttp.FormData()
    for name, value in {
        "csrf_token": token,
        "vendor": "azure_ad",
        "name": "entra-saml",
        "display_name": "Entra",
        "idp_entity_id": "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/",
        "sso_url": "https://login.microsoftonline.com/9188040d/saml2",
        "certificate": seed.certificate(days=400),
    }.items():
        form.add_field(name, value)
    response = await browser.post("/admin/connections/saml", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await (await browser.get(response.headers["Location"])).text()
    assert "Identifier (Entity ID)" in page
    assert "Reply URL (Assertion Consumer Service URL)" in page
    assert re.search(r'id="acs-url">http://[^<]+/sso/saml/[0-9a-f-]+/acs<', page)
    listed = await admin.tenant.json("GET", "/connections")
    (made,) = [c for c in listed["items"] if c["name"] == "entra-saml"]
    assert made["protocol"] == "saml"


async def test_a_saml_connection_is_added_from_an_uploaded_metadata_file(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """The metadata file an admin downloads from Okta (Sign On → "Identity Provider
    metadata"), uploaded as multipart/form-data: the entity id and certificate come from it."""
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/connections/new?protocol=saml&vendor=okta")
    metadata = idp_metadata("http://www.okta.com/exk1upload", KeyPair.generate())
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("vendor", "okta")
    form.add_field("name", "okta-upload")
    form.add_field(
        "metadata_file", metadata, filename="metadata.xml", content_type="application/xml"
    )
    response = await browser.post("/admin/connections/saml", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    connection_id = response.headers["Location"].split("/")[3].split("?")[0]
    made = await admin.tenant.json("GET", f"/connections/{connection_id}")
    assert made["saml"]["idp_entity_id"] == "http://www.okta.com/exk1upload"
    assert made["saml"]["sso_url"] == "https://idp.acme.test/app/sso/saml"


async def test_a_saml_form_without_metadata_or_fields_shows_the_error_next_to_the_field(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/connections/new?protocol=saml&vendor=okta")
    response = await browser.post(
        "/admin/connections/saml", data={"csrf_token": token, "vendor": "okta", "name": "x"}
    )
    text = await response.text()
    assert response.status == 400
    assert 'id="metadata_url-error"' in text
    assert 'aria-describedby="metadata_url-hint metadata_url-error" aria-invalid="true"' in text
    assert (await admin.tenant.json("GET", "/connections"))["items"] == []


async def test_a_claimed_domain_shows_its_txt_record_and_serves_an_edited_connection(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """Verified domains on the connection pages: claim one, read the TXT record to publish,
    let a connection serve it; the API agrees."""
    await sign_in(browser, admin)
    domain = f"{admin.tenant.account.name}.test"
    token = await csrf_token(browser, "/admin/connections")
    claimed = await browser.post(
        "/admin/domains", data={"csrf_token": token, "domain": domain}, allow_redirects=False
    )
    assert claimed.status == 303
    page = await (await browser.get(claimed.headers["Location"])).text()
    assert "The domain was claimed." in page
    (record,) = (await admin.tenant.json("GET", "/domains"))["items"]
    assert record["status"] == "pending"
    assert record["record_name"] in page
    assert record["record_value"] in page
    await seed.connections(admin.tenant, "http://127.0.0.1")
    oidc = next(
        c for c in (await admin.tenant.json("GET", "/connections"))["items"] if c["name"] == "entra"
    )
    saved = await browser.post(
        f"/admin/connections/{oidc['id']}",
        data={"csrf_token": token, "display_name": "Entra", "domains": domain},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    edited = await admin.tenant.json("GET", f"/connections/{oidc['id']}")
    assert (edited["display_name"], edited["domains"]) == ("Entra", [domain])
    page = await (await browser.get(f"/admin/connections/{oidc['id']}")).text()
    assert "Domains served" in page
    assert record["record_name"] in page


async def test_a_bad_domain_is_refused_next_to_the_field(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/connections")
    response = await browser.post(
        "/admin/domains", data={"csrf_token": token, "domain": "gmail.com"}
    )
    text = await response.text()
    assert response.status in (400, 409)
    assert 'id="domain-error"' in text
    assert (await admin.tenant.json("GET", "/domains"))["items"] == []


async def test_pages_load_code_only_from_the_gateways_files(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    """No inline script or style anywhere (the CSP would block it); the files are served with
    nosniff, and nothing outside the list is."""
    await sign_in(browser, admin)
    for path in ("/admin", "/admin/users", "/admin/connections", "/admin/login", "/login"):
        text = await (await browser.get(path)).text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert "<style" not in text, path
        assert " style=" not in text, path
        assert re.search(r" on[a-z]+=", text) is None, path
    for name, kind in (("console.css", "text/css"), ("copy.js", "text/javascript")):
        served = await browser.get(f"/static/{name}")
        assert served.status == 200
        assert served.headers["Content-Type"].startswith(kind)
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert (await browser.get("/static/..%2Fapp.py")).status == 404
    assert (await browser.get("/static/other.js")).status == 404
