"""The CLI against the mesh in-process: the real directory and auth services (production wiring,
session PostgreSQL), each on a meshkit GrpcServer bound to 127.0.0.1:0. Commands run through
``idmesh_cli.__main__.run``, the coroutine ``main`` runs, in the test's event loop."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from auth.app import build_app
from directory.app import build_server
from idmesh.directory.v1 import directory_pb2_grpc
from idmesh_cli.__main__ import run
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.support.directory import Stub


@pytest.fixture(scope="module")
async def directory_server(database_url: str) -> AsyncIterator[tuple[str, Stub]]:
    """The real directory on 127.0.0.1:0, and a stub of it to arrange and check."""
    pool: asyncpg.Pool = await create_pool(database_url, min_size=1, max_size=4)
    server = build_server(
        pool,
        host="127.0.0.1",
        port=0,
        secretbox=SecretBox(os.urandom(32)),
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
    )
    port = await server.start()
    channel = connect(f"127.0.0.1:{port}")
    try:
        yield f"127.0.0.1:{port}", directory_pb2_grpc.DirectoryServiceStub(channel)
    finally:
        await channel.close()
        await server.stop()
        await pool.close()


@pytest.fixture
def directory(directory_server: tuple[str, Stub]) -> Stub:
    """A stub of the real directory, to arrange and check what a command did."""
    return directory_server[1]


@pytest.fixture(scope="module")
async def auth_address(database_url: str) -> AsyncIterator[str]:
    """The real auth service (schema auth migrated by the session's database fixture)."""
    pool: asyncpg.Pool = await create_pool(database_url, min_size=1, max_size=2)
    app = build_app(
        pool,
        host="127.0.0.1",
        port=0,
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
    )
    port = await app.start()
    yield f"127.0.0.1:{port}"
    await app.stop()
    await pool.close()


@pytest.fixture
def mesh_env(directory_server: tuple[str, Stub], auth_address: str) -> dict[str, str]:
    """The environment a shell on this mesh would have."""
    return {"DIRECTORY_ADDR": directory_server[0], "AUTH_ADDR": auth_address}


Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def idmesh(mesh_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> Idmesh:
    """``code, out, err = await idmesh("account", "list", env={...})``: one CLI run against the
    mesh (``env`` adds to or replaces its variables), with what it printed."""

    async def invoke(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await run(list(argv), environ={**mesh_env, **(env or {})})
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def account_name() -> str:
    """A fresh account name per test: the directory and the database are shared."""
    return f"acme-{uuid.uuid4().hex[:8]}"
