"""End-to-end SAML fixtures: samlify (npm, pinned, installed with ``npm ci``) as the IdP and a
mesh of the real processes whose auth holds an encryption key, all on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.dev.mesh import Mesh
from tests.e2e.harness import start_mesh_with_secrets
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.idps.saml.samlify_idp import SamlifyIdp, install


@pytest.fixture(scope="package")
async def samlify(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SamlifyIdp]:
    await install()
    idp = SamlifyIdp(tmp_path_factory.mktemp("samlify"))
    await idp.start()
    yield idp
    await idp.stop()


@pytest.fixture(scope="package")
async def saml_mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh_with_secrets(
        database_url, otlp_receiver, tmp_path_factory.mktemp("saml-mesh")
    )
    yield mesh
    await mesh.stop()
