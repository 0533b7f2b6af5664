"""The public SCIM conformance tools against the real mesh: the same processes as the
end-to-end tests (tests/e2e/harness.py), exporting to the session's OTLP receiver, and the
tools' own virtualenv, created on first use (tools.py).

The suites get a mesh of their own with the per-account SCIM rate limit lifted: they fire
hundreds of requests a second from one token without honouring Retry-After (as no IdP does),
and they measure the protocol, not the limiter (tests/e2e/scim/test_scim_rate_limit.py does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.dev.mesh import Mesh
from tests.conformance.tools import ensure_tools
from tests.e2e.conftest import otlp_receiver
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver

__all__ = ["otlp_receiver"]

UNLIMITED_SCIM = {"SCIM_RATE_LIMIT": "1000000", "SCIM_RATE_BURST": "1000000"}


@pytest.fixture(scope="session")
async def mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    """directory, auth, scim and gateway as real processes, without a SCIM rate limit."""
    running = await start_mesh(
        database_url, otlp_receiver, tmp_path_factory.mktemp("conformance"), env=UNLIMITED_SCIM
    )
    yield running
    await running.stop()


@pytest.fixture(scope="session")
async def conformance_tools() -> Path:
    """The virtualenv holding scim2-tester, scim-sanity, scim2-cli and scim2-server."""
    return await asyncio.to_thread(ensure_tools)
