"""The admin API through the real processes: an HTTP client of the session's mesh
(tests/e2e/conftest.py); each test makes its own account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
