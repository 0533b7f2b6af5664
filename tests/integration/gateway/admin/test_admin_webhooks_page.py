"""The Webhooks admin page: an Account Admin adds an endpoint and sees its signing secret once;
a bad URL is answered with the reason on the form; the form needs its CSRF token."""

from __future__ import annotations

import re

import aiohttp

from tests.integration.gateway.admin.conftest import Admin, sign_in
from tests.integration.gateway.admin.test_admin_pages import csrf_token


async def test_an_admin_adds_a_webhook_endpoint_and_sees_its_secret_once(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/webhooks")
    form = {"csrf_token": token, "url": "https://hooks.example.com/idmesh", "types": "user.created"}
    added = await browser.post("/admin/webhooks", data=form)
    text = await added.text()
    assert added.status == 201, text
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", text)
    assert secret, text
    again = await (await browser.get("/admin/webhooks")).text()
    assert "https://hooks.example.com/idmesh" in again
    assert secret.group(1) not in again


async def test_a_private_address_is_refused_on_the_form_with_the_reason(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    token = await csrf_token(browser, "/admin/webhooks")
    refused = await browser.post(
        "/admin/webhooks", data={"csrf_token": token, "url": "https://10.0.0.7/hook"}
    )
    assert refused.status == 400
    assert "not public" in await refused.text()


async def test_the_form_without_its_csrf_token_changes_nothing(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    refused = await browser.post("/admin/webhooks", data={"url": "https://hooks.example.com/x"})
    assert refused.status == 403
    assert "hooks.example.com/x" not in await (await browser.get("/admin/webhooks")).text()
