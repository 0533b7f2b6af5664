"""The scim service in-process over an in-process directory (both with their production wiring,
on 127.0.0.1:0), over the session's migrated PostgreSQL database. Each test makes its own
account, so tests share the servers and never see each other's rows.

``scim`` (harness.Scim) drives HandleRequest the way the gateway does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from directory.app import build_server as build_directory
from idmesh.directory.v1 import directory_pb2_grpc
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.support.directory import Stub, new_account

from .harness import Scim, serving_scim


@pytest.fixture(scope="module")
async def directory_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def directory(directory_pool: asyncpg.Pool) -> AsyncIterator[Stub]:
    server = build_directory(
        directory_pool,
        host="127.0.0.1",
        port=0,
        secretbox=SecretBox(os.urandom(32)),
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
    )
    port = await server.start()
    channel = connect(f"127.0.0.1:{port}")
    try:
        yield directory_pb2_grpc.DirectoryServiceStub(channel)
    finally:
        await channel.close()
        await server.stop()


@pytest.fixture(scope="module")
async def scim_stub(directory: Stub) -> AsyncIterator[Any]:
    """A stub of an in-process scim server wired to the in-process directory."""
    async with serving_scim(directory) as stub:
        yield stub


@pytest.fixture
async def scim(scim_stub: Any, directory: Stub) -> Scim:
    """SCIM requests on a fresh account."""
    account = await new_account(directory)
    return Scim(scim_stub, account.id)
