"""End-to-end fixtures: the real processes (``python -m directory|auth|scim|gateway``) on free
ports against a fresh migrated database, exporting their spans to an in-test OTLP receiver.

One mesh serves the whole session (starting four Python processes costs seconds); tests isolate
themselves by creating their own accounts (tests/e2e/tenants.py). Tests that stop or break
processes start their own mesh (tests/e2e/harness.py) instead of touching this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.dev.mesh import Mesh
from tests.dns.server import LoopbackDns
from tests.e2e.harness import dns_env, start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="session")
async def otlp_receiver() -> AsyncIterator[OtlpReceiver]:
    """The session's OTLP/gRPC trace receiver; every mesh process of the session exports to it."""
    receiver = OtlpReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture(scope="session")
async def mesh(
    database_url: str,
    otlp_receiver: OtlpReceiver,
    dns_server: LoopbackDns,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    """directory, auth, scim and gateway as real processes on free ports, ready (/readyz 200);
    directory verifies domains against the session's loopback DNS server.

    Their logs are in ``<pytest tmp>/mesh0/<service>.log``; a start-up failure quotes the tail."""
    running = await start_mesh(
        database_url,
        otlp_receiver,
        tmp_path_factory.mktemp("mesh"),
        service_env={"directory": dns_env(dns_server)},
    )
    yield running
    await running.stop()
