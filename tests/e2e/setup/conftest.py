"""The setup wizard end to end: the real processes with a directory that verifies domains
against the loopback DNS server, the OpenID-certified oidc-provider and samlify as the IT
admin's IdPs, and Debian's Chromium (never a downloaded browser) driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from infra.dev.mesh import Mesh
from tests.dns.server import LoopbackDns
from tests.e2e.harness import start_mesh_with_dns
from tests.e2e.oidc.test_oidc_chromium import CHROMIUM, CHROMIUM_ARGS, INSTALLED
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.idps.oidc import provider as oidc
from tests.idps.saml import samlify_idp as saml


@pytest.fixture(scope="package")
async def setup_mesh(
    database_url: str,
    otlp_receiver: OtlpReceiver,
    dns_server: LoopbackDns,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh_with_dns(
        database_url, otlp_receiver, tmp_path_factory.mktemp("setup-mesh"), dns_server
    )
    yield mesh
    await mesh.stop()


@pytest.fixture(scope="package")
async def oidc_idp(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[oidc.OidcProvider]:
    await oidc.install()
    provider = oidc.OidcProvider(tmp_path_factory.mktemp("setup-oidc-provider"))
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture(scope="package")
async def saml_idp(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[saml.SamlifyIdp]:
    await saml.install()
    idp = saml.SamlifyIdp(tmp_path_factory.mktemp("setup-samlify"))
    await idp.start()
    yield idp
    await idp.stop()


@pytest.fixture(scope="package")
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
