"""SCIM through the real processes: each test gets its own account and API token on the
session's mesh (tests/e2e/conftest.py), an HTTP client of the gateway, and a directory stub to
check what was stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from idmesh.directory.v1 import directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.scim.gateway_client import GatewayScim
from tests.e2e.tenants import Tenant, create_tenant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture(scope="session")
async def directory(mesh: Mesh) -> AsyncIterator[Any]:
    """A stub of the mesh's directory, to read what SCIM requests stored."""
    async with connect(mesh.address("directory")) as channel:
        yield directory_pb2_grpc.DirectoryServiceStub(channel)


@pytest.fixture
async def tenant(mesh: Mesh) -> Tenant:
    """A fresh account with a users:manage token, as an operator hands it to an IdP."""
    return await create_tenant(mesh)


@pytest.fixture
def entra(http: aiohttp.ClientSession, mesh: Mesh, tenant: Tenant) -> GatewayScim:
    """Entra ID's provisioning client of ``tenant``: no User-Agent."""
    return GatewayScim(http, mesh.gateway_url, tenant.token)


@pytest.fixture
def okta(http: aiohttp.ClientSession, mesh: Mesh, tenant: Tenant) -> GatewayScim:
    """Okta's SCIM client of ``tenant``."""
    return GatewayScim(http, mesh.gateway_url, tenant.token, user_agent="Okta SCIM Client 1.0.0")
