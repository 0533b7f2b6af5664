"""Fixtures of the admin API tests: one in-process stack on the real directory and auth
(tests/integration/gateway/api/stack.py) for the session, a fresh tenant per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.dns.server import LoopbackDns
from tests.integration.gateway.api.stack import Stack, Tenant, new_tenant, start_stack


@pytest.fixture(scope="session")
async def stack(database_url: str, dns_server: LoopbackDns) -> AsyncIterator[Stack]:
    async with start_stack(database_url, dns_server.nameserver) as running:
        yield running


@pytest.fixture
async def tenant(stack: Stack) -> Tenant:
    """A fresh account whose token holds every permission auth issues."""
    return await new_tenant(stack)


@pytest.fixture
async def other_tenant(stack: Stack) -> Tenant:
    """A second account: its ids must be invisible to ``tenant``."""
    return await new_tenant(stack)
