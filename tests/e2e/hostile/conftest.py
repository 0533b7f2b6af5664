"""Hostile input through the real gateway (issue "Under load, faults and hostile input it keeps
working and loses nothing"): this package's own mesh (a fuzzer that crashed a process must not
fail other packages' tests; its auth holds an encryption key so that SSO connections can be
made), an account whose token holds every permission and one OIDC and one SAML connection of
it. The checks every answer must pass are in checks.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from auth.permissions import KNOWN_PERMISSIONS
from infra.dev.mesh import Mesh
from tests.e2e.harness import start_mesh_with_secrets
from tests.e2e.hostile.checks import Connections
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import Tenant, create_tenant
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="package")
async def mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    """The real processes for this package alone (auth with the mesh's IDMESH_ENCRYPTION_KEY)."""
    running = await start_mesh_with_secrets(
        database_url, otlp_receiver, tmp_path_factory.mktemp("hostile-mesh")
    )
    yield running
    await running.stop()


@pytest.fixture(scope="package")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=30), connector=connector
    ) as session:
        yield session


@pytest.fixture(scope="package")
async def admin(mesh: Mesh) -> Tenant:
    """An account whose token may do everything (SCIM, the admin API, connections)."""
    return await create_tenant(mesh, permissions=sorted(KNOWN_PERMISSIONS))


@pytest.fixture(scope="package")
async def connections(http: aiohttp.ClientSession, mesh: Mesh, admin: Tenant) -> Connections:
    """One OIDC and one SAML connection of ``admin``'s account, made through /api/v1."""
    headers = {**admin.headers, "Content-Type": "application/json"}
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    bodies = {
        "/api/v1/connections": {
            "name": "hostile-oidc",
            "vendor": "generic",
            "domains": [f"oidc.{domain}"],
            "issuer": "https://127.0.0.1:9",
            "client_id": "c",
            "client_secret": "s",
            "skip_discovery_check": True,
        },
        "/api/v1/connections/saml": {
            "name": "hostile-saml",
            "vendor": "generic",
            "domains": [f"saml.{domain}"],
            "metadata_xml": idp_metadata("https://idp.hostile.test/saml", KeyPair.generate()),
        },
    }
    ids = []
    for path, body in bodies.items():
        async with http.post(mesh.gateway_url + path, json=body, headers=headers) as response:
            created = await response.json()
            assert response.status == 201, created
            ids.append(created["id"])
    return Connections(oidc=ids[0], saml=ids[1])
