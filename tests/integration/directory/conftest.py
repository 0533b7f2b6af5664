"""The directory service in-process: production wiring (directory.app) on a meshkit GrpcServer
bound to 127.0.0.1:0, over the session's migrated PostgreSQL database. Each test makes its own
accounts, so tests share the server and never see each other's rows (helpers:
tests.support.directory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from directory.app import build_server
from directory.config import parse_nameservers
from directory.domains.dns import DnsChecker
from idmesh.directory.v1 import directory_pb2_grpc
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox, new_key, parse_key
from meshkit.server import GrpcServer
from tests.dns.server import LoopbackDns
from tests.support.directory import Stub


@pytest.fixture(scope="module")
async def directory_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def secretbox() -> SecretBox:
    """The in-process directory's IDMESH_ENCRYPTION_KEY, a fresh one per module: it seals the
    webhook signing secrets."""
    return SecretBox(parse_key(new_key()))


@pytest.fixture(scope="module")
async def directory(
    directory_pool: asyncpg.Pool, dns_server: LoopbackDns, secretbox: SecretBox
) -> AsyncIterator[Stub]:
    """A stub of an in-process directory server, verifying domains against ``dns_server``."""
    server = build_server(
        directory_pool,
        host="127.0.0.1",
        port=0,
        secretbox=secretbox,
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
        dns=DnsChecker(parse_nameservers(dns_server.nameserver)),
    )
    port = await server.start()
    channel = connect(f"127.0.0.1:{port}")
    try:
        yield directory_pb2_grpc.DirectoryServiceStub(channel)
    finally:
        await channel.close()
        await server.stop()
