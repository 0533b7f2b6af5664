"""Fault tests: the real processes crashed, restarted and raced while clients keep working.

Tests that kill or restart a process use ``fault_mesh``, a mesh of this package alone (never the
session's), whose auth holds an encryption key so that OIDC connections can be made on it; each
such test leaves every process running again, and ``fault_mesh`` restarts any it finds dead so
one failed test does not fail the next. The tests that only race requests run on it too: it is
up anyway, and running this folder alone then starts one mesh fewer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from infra.dev.mesh import SERVICES, Mesh
from tests.e2e.faults.meshes import kill_all
from tests.e2e.harness import start_mesh_with_secrets
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import Tenant, create_tenant
from tests.idps.oidc.provider import OidcProvider, install

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="package")
async def private_mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh_with_secrets(
        database_url, otlp_receiver, tmp_path_factory.mktemp("fault-mesh")
    )
    yield mesh
    await kill_all(mesh)


@pytest.fixture
async def fault_mesh(private_mesh: Mesh) -> Mesh:
    """This package's own mesh, every process running (restarted if an earlier test left one
    dead): the one a test may break."""
    for service in SERVICES:
        if not private_mesh.is_running(service):
            await private_mesh.restart(service)
    return private_mesh


@pytest.fixture(scope="package")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def fault_tenant(fault_mesh: Mesh) -> Tenant:
    """A fresh account of ``fault_mesh`` with a users:manage token."""
    return await create_tenant(fault_mesh)


@pytest.fixture(scope="package")
async def oidc_provider(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OidcProvider]:
    """The OpenID-certified oidc-provider (tests/idps/oidc) on a free port of 127.0.0.1."""
    await install()
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    await provider.start()
    yield provider
    await provider.stop()
