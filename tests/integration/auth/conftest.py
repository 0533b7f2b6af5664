"""The auth service in-process: production wiring (auth.app) on a meshkit GrpcServer bound to
127.0.0.1:0, over the session's migrated PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from auth.app import build_app
from idmesh.auth.v1 import auth_pb2_grpc
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.server import GrpcServer

# Short so the cross-replica revocation test waits little; production allows up to 5 s.
CACHE_TTL_SECONDS = 0.5


def fast_server() -> GrpcServer:
    """A GrpcServer that stops without the production drain pause."""
    return GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)


@pytest.fixture(scope="session")
def cache_ttl_seconds() -> float:
    """The verification cache TTL of the test replicas."""
    return CACHE_TTL_SECONDS


@pytest.fixture(scope="module")
async def auth_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def _serve(pool: asyncpg.Pool) -> AsyncIterator[auth_pb2_grpc.AuthServiceAsyncStub]:
    app = build_app(
        pool, host="127.0.0.1", port=0, cache_ttl=CACHE_TTL_SECONDS, server=fast_server()
    )
    port = await app.start()
    channel: grpc.aio.Channel = connect(f"127.0.0.1:{port}")
    try:
        yield auth_pb2_grpc.AuthServiceStub(channel)
    finally:
        await channel.close()
        await app.stop()


@pytest.fixture(scope="module")
async def auth_stub(
    auth_pool: asyncpg.Pool,
) -> AsyncIterator[auth_pb2_grpc.AuthServiceAsyncStub]:
    """A stub of one auth replica."""
    async for stub in _serve(auth_pool):
        yield stub


@pytest.fixture(scope="module")
async def other_replica_stub(
    auth_pool: asyncpg.Pool,
) -> AsyncIterator[auth_pb2_grpc.AuthServiceAsyncStub]:
    """A second replica on the same database, with its own cache."""
    async for stub in _serve(auth_pool):
        yield stub
