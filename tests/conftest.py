"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from meshkit.testing import PostgresServer, migrate
from tests.dns.server import LoopbackDns

ROOT = Path(__file__).resolve().parent.parent
# Each storing service: its PostgreSQL schema and its migrations folder.
MIGRATIONS = {
    "directory": ROOT / "services/directory/src/directory/migrations",
    "auth": ROOT / "services/auth/src/auth/migrations",
}


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PostgresServer]:
    """TEST_DATABASE_URL's server when it answers, otherwise a throwaway local cluster."""
    server = PostgresServer()
    await server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def database_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """A fresh database for the session with every service's migrations applied.

    Tests isolate themselves by creating their own accounts, which is also what tenant
    isolation demands of the code under test."""
    url = await postgres.create_database()
    await migrate(url, {schema: folder for schema, folder in MIGRATIONS.items() if folder.is_dir()})
    yield url
    await postgres.drop_database(url)


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LoopbackDns]:
    """An authoritative DNS server on 127.0.0.1 (UDP and TCP) whose records tests change while
    it runs; services reach it with ``DNS_NAMESERVERS=dns_server.nameserver``. Tests publish
    under domains of their own, so they share it."""
    with LoopbackDns() as server:
        yield server
