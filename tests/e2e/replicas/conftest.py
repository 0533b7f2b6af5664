"""Two replicas of every service (tests/e2e/replicas/replicas.py), shared by this package's
tests, each of which makes its own account; the real IdPs of the SSO suites (oidc-provider and
samlify) on 127.0.0.1.

What the replicas share is what Kubernetes gives every pod of a Deployment: the database, the
encryption key and the signing key file (a mounted Secret). The caches and limits are set small
so that tests wait seconds, not minutes:

- TOKEN_CACHE_TTL and API_TOKEN_CACHE_TTL at 2 s each: a revoked API token is refused within
  their sum (README, "Configuration").
- SCIM requests 20 at once per account, token requests 10 per client and per account, refilled
  at one token per 1,000 s: no test lasts long enough to see a refill, so the totals the tests
  count do not depend on the machine's speed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import pytest
from joserfc.jwk import ECKey

from tests.dns.server import LoopbackDns
from tests.e2e.harness import dns_env, mesh_env
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.replicas.replicas import Replicas
from tests.idps.oidc.provider import OidcProvider
from tests.idps.oidc.provider import install as install_oidc_provider
from tests.idps.saml.samlify_idp import SamlifyIdp
from tests.idps.saml.samlify_idp import install as install_samlify

TOKEN_CACHE_SECONDS: Final = 2
API_TOKEN_CACHE_SECONDS: Final = 2
SCIM_BURST: Final = 20
TOKEN_BURST: Final = 10
NO_REFILL: Final = "0.001"


def signing_key(kid: str) -> dict[str, Any]:
    """A private P-256 JWK, as an operator puts in the signing key Secret."""
    return {**ECKey.generate_key("P-256", private=True).as_dict(private=True), "kid": kid}


def write_signing_keys(path: Path, *keys: dict[str, Any]) -> None:
    """Replaces the key file as the kubelet updates a mounted Secret: a new file renamed into
    place, so a reader never sees half of it."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"keys": list(keys)}))
    partial.replace(path)


def rotate_signing_keys(path: Path, kid: str) -> None:
    """A new key ``kid`` first in the file, the current ones after it (auth.oauth.signing)."""
    current = json.loads(path.read_text())["keys"]
    write_signing_keys(path, signing_key(kid), *current)


@pytest.fixture(scope="package")
def signing_keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The signing key Secret of the auth replicas: one key, ``k1``."""
    path = tmp_path_factory.mktemp("signing-keys") / "keys.json"
    write_signing_keys(path, signing_key("k1"))
    return path


@pytest.fixture(scope="package")
async def replicas(
    database_url: str,
    otlp_receiver: OtlpReceiver,
    dns_server: LoopbackDns,
    signing_keys_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Replicas]:
    running = Replicas(
        database_url,
        tmp_path_factory.mktemp("replicas"),
        env=mesh_env(otlp_receiver),
        service_env={
            "directory": dns_env(dns_server),
            "auth": {
                "IDMESH_SIGNING_KEYS_FILE": str(signing_keys_file),
                "API_TOKEN_CACHE_TTL": f"{API_TOKEN_CACHE_SECONDS}s",
            },
            "gateway": {
                "TOKEN_CACHE_TTL": f"{TOKEN_CACHE_SECONDS}s",
                "SCIM_RATE_LIMIT": NO_REFILL,
                "SCIM_RATE_BURST": str(SCIM_BURST),
                "TOKEN_RATE_LIMIT": NO_REFILL,
                "TOKEN_RATE_BURST": str(TOKEN_BURST),
            },
        },
    )
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(scope="package")
async def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OidcProvider]:
    await install_oidc_provider()
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture(scope="package")
async def samlify(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SamlifyIdp]:
    await install_samlify()
    idp = SamlifyIdp(tmp_path_factory.mktemp("samlify"))
    await idp.start()
    yield idp
    await idp.stop()
