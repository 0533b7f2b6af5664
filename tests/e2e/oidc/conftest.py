"""End-to-end OIDC fixtures: the OpenID-certified oidc-provider (npm, pinned, installed here
with ``npm ci``) and a mesh of the real processes whose auth holds an encryption key, both on
127.0.0.1 and shared by this package's tests (each test makes its own account and client)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.dev.mesh import Mesh
from tests.e2e.harness import start_mesh
from tests.e2e.oidc.helpers import OidcTenantFactory, make_tenant_factory
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.idps.oidc.provider import OidcProvider, install

# Short so that key rotation is picked up within a test; production's default is 60 s.
JWKS_MIN_REFETCH = "1s"


@pytest.fixture(scope="package")
async def oidc_provider(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OidcProvider]:
    await install()
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    # Only k1 at first, so that the rotation test sees idmesh fetch k2 when the IdP rotates.
    await provider.start(publish="first")
    yield provider
    await provider.stop()


@pytest.fixture(scope="package")
async def sso_mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    """directory, auth, scim and gateway as real processes (auth seals client secrets with the
    mesh's IDMESH_ENCRYPTION_KEY)."""
    mesh = await start_mesh(
        database_url,
        otlp_receiver,
        tmp_path_factory.mktemp("sso-mesh"),
        service_env={"auth": {"JWKS_MIN_REFETCH_INTERVAL": JWKS_MIN_REFETCH}},
    )
    yield mesh
    await mesh.stop()


@pytest.fixture
def oidc_tenant(sso_mesh: Mesh, oidc_provider: OidcProvider) -> OidcTenantFactory:
    return make_tenant_factory(sso_mesh, oidc_provider)
