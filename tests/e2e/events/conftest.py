"""A mesh whose deliverer retries fast (200 ms doubling up to 2 s) and disables an endpoint
after 8 s of failures instead of 3 days, whose auth checks expiry times every second, and the
receiver that records what it gets.

The mesh has a database of its own: every mesh runs a deliverer, and the deliverers of one
database are replicas of each other (they claim endpoints with SKIP LOCKED), so another test
mesh's deliverer, with production retry settings, would otherwise take this package's
deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.dev.mesh import Mesh
from meshkit.testing import PostgresServer, migrate
from tests.conftest import MIGRATIONS
from tests.e2e.events.receiver import Receiver
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver

FAST_RETRIES = {
    "WEBHOOK_RETRY_BASE": "200ms",
    "WEBHOOK_RETRY_MAX": "2s",
    # Well above the flaky endpoint's four retries (under 4 s even on a loaded machine).
    "WEBHOOK_DISABLE_AFTER": "8s",
    # auth looks for certificates and tokens about to expire every second instead of hourly.
    "EXPIRY_CHECK_EVERY": "1s",
}


@pytest.fixture(scope="package")
async def events_database(postgres: PostgresServer) -> AsyncIterator[str]:
    url = await postgres.create_database()
    await migrate(url, {schema: folder for schema, folder in MIGRATIONS.items() if folder.is_dir()})
    yield url
    await postgres.drop_database(url)


@pytest.fixture(scope="package")
async def events_mesh(
    events_database: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh(
        events_database, otlp_receiver, tmp_path_factory.mktemp("events-mesh"), env=FAST_RETRIES
    )
    yield mesh
    await mesh.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A fresh receiver per test: what one test's endpoints got never reaches another's."""
    running = Receiver()
    await running.start()
    yield running
    await running.stop()
