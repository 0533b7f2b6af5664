"""The public SCIM conformance tools against the real mesh: the same processes as the
end-to-end tests (tests/e2e/harness.py), exporting to the session's OTLP receiver, and the
tools' own virtualenv, created on first use (tools.py).

The suites get a mesh of their own with the default settings, as an administrator who points
the tools at a fresh install has: nothing is lifted for them."""

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


@pytest.fixture(scope="session")
async def mesh(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Mesh]:
    """directory, auth, scim and gateway as real processes, with the default settings."""
    running = await start_mesh(database_url, otlp_receiver, tmp_path_factory.mktemp("conformance"))
    yield running
    await running.stop()


@pytest.fixture(scope="session")
async def conformance_tools() -> Path:
    """The virtualenv holding scim2-tester, scim-sanity, scim2-cli and scim2-server."""
    return await asyncio.to_thread(ensure_tools)
