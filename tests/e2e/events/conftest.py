"""A mesh whose deliverer retries fast (200 ms doubling up to 2 s) and disables an endpoint
after 8 s of failures instead of 3 days, whose auth checks expiry times every second, and the
receiver that records what it gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.dev.mesh import Mesh
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
async def events_mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh(
        database_url, otlp_receiver, tmp_path_factory.mktemp("events-mesh"), env=FAST_RETRIES
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
