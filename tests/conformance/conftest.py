"""The public SCIM conformance tools against the real mesh: the same processes and fixtures as
the end-to-end tests (tests/e2e/conftest.py: ``mesh`` and its OTLP receiver), and the tools'
own virtualenv, created on first use (tools.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conformance.tools import ensure_tools
from tests.e2e.conftest import mesh, otlp_receiver

__all__ = ["mesh", "otlp_receiver"]


@pytest.fixture(scope="session")
async def conformance_tools() -> Path:
    """The virtualenv holding scim2-tester, scim-sanity, scim2-cli and scim2-server."""
    return await asyncio.to_thread(ensure_tools)
