"""A mesh whose four services (gateway, auth, scim, directory) each run two workers behind one
port (``WORKERS=2``), as ``make run`` starts them on a two-core machine. Its fault tests kill
and restart processes: ``workers_mesh`` restarts any service it finds dead, so one failed test
does not fail the next.

Two settings make the even split of the load exact where it can be (see
test_each_worker_takes_an_even_share): the gateway asks auth about every request
(``TOKEN_CACHE_TTL=0``: no cache hit skips a worker's turn), and scim writes its provisioning log
only when it stops (a batch interval of an hour), so that no background call takes a turn in
the rotation of scim's connections to the directory while the load runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.dev.mesh import SERVICES, Mesh
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

WORKERS = 2
WORKERS_ENV = {
    "WORKERS": str(WORKERS),
    "TOKEN_CACHE_TTL": "0",
    "PROVISIONING_LOG_INTERVAL": "1h",
    "PROVISIONING_LOG_BATCH": "1000",
}


@pytest.fixture(scope="package")
async def private_workers_mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh(
        database_url, otlp_receiver, tmp_path_factory.mktemp("workers-mesh"), env=WORKERS_ENV
    )
    yield mesh
    await mesh.stop()


@pytest.fixture
async def workers_mesh(private_workers_mesh: Mesh) -> Mesh:
    """This package's mesh of two workers per service, every service running."""
    for service in SERVICES:
        if not private_workers_mesh.is_running(service):
            await private_workers_mesh.restart(service)
    return private_workers_mesh
