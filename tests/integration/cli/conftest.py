"""The CLI against the mesh in-process: the real auth service (production wiring, session
PostgreSQL) and a small in-memory fake of the directory (its servicer is not written yet), each
on a meshkit GrpcServer bound to 127.0.0.1:0. Commands run through ``idmesh_cli.__main__.run``,
the coroutine ``main`` runs, in the test's event loop."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import timestamp_pb2

from auth.app import build_app
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from idmesh_cli.__main__ import run
from meshkit.database import create_pool
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound
from meshkit.server import GrpcServer

Context = grpc.aio.ServicerContext[Any, Any]


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _page(request: directory_pb2.PageRequest, items: list[Any]) -> tuple[list[Any], str]:
    """Offset pagination with the offset as the page token: enough to exercise the CLI's loop."""
    start = int(request.page_token or "0")
    size = request.page_size or 50
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, str(start + size) if more else ""


class FakeDirectory(directory_pb2_grpc.DirectoryServiceServicer):
    """Accounts and spaces in memory, with the directory's uniqueness rules; records actors."""

    def __init__(self) -> None:
        self.accounts: dict[str, directory_pb2.Account] = {}
        self.spaces: list[directory_pb2.Space] = []
        self.actors: list[directory_pb2.Actor] = []

    async def CreateAccount(
        self, request: directory_pb2.CreateAccountRequest, context: Context
    ) -> directory_pb2.CreateAccountResponse:
        if not request.name:
            raise InvalidArgument("must not be empty", field="name")
        if request.name in self.accounts:
            raise AlreadyExists(f"account {request.name!r} already exists", field="name")
        self.actors.append(request.actor)
        account = directory_pb2.Account(
            id=str(uuid.uuid4()),
            name=request.name,
            display_name=request.display_name or request.name,
            create_time=_now(),
            version=1,
        )
        self.accounts[account.name] = account
        return directory_pb2.CreateAccountResponse(account=account)

    async def GetAccount(
        self, request: directory_pb2.GetAccountRequest, context: Context
    ) -> directory_pb2.GetAccountResponse:
        for account in self.accounts.values():
            if (request.WhichOneof("key"), request.name or request.account_id) in (
                ("name", account.name),
                ("account_id", account.id),
            ):
                return directory_pb2.GetAccountResponse(account=account)
        raise NotFound("account not found")

    async def ListAccounts(
        self, request: directory_pb2.ListAccountsRequest, context: Context
    ) -> directory_pb2.ListAccountsResponse:
        chunk, token = _page(request.page, list(self.accounts.values()))
        return directory_pb2.ListAccountsResponse(
            accounts=chunk, page=directory_pb2.PageResponse(next_page_token=token)
        )

    async def CreateSpace(
        self, request: directory_pb2.CreateSpaceRequest, context: Context
    ) -> directory_pb2.CreateSpaceResponse:
        wanted = request.space
        for space in self.spaces:
            if space.account_id == wanted.account_id and space.name.lower() == wanted.name.lower():
                raise AlreadyExists(f"space {wanted.name!r} already exists", field="space.name")
        self.actors.append(request.actor)
        space = directory_pb2.Space(
            id=str(uuid.uuid4()),
            account_id=wanted.account_id,
            name=wanted.name,
            description=wanted.description,
            create_time=_now(),
            version=1,
        )
        self.spaces.append(space)
        return directory_pb2.CreateSpaceResponse(space=space)

    async def ListSpaces(
        self, request: directory_pb2.ListSpacesRequest, context: Context
    ) -> directory_pb2.ListSpacesResponse:
        mine = [space for space in self.spaces if space.account_id == request.account_id]
        chunk, token = _page(request.page, mine)
        return directory_pb2.ListSpacesResponse(
            spaces=chunk, page=directory_pb2.PageResponse(next_page_token=token)
        )


@pytest.fixture(scope="module")
async def fake_directory() -> AsyncIterator[tuple[FakeDirectory, str]]:
    fake = FakeDirectory()  # type: ignore[abstract]  # only the RPCs the CLI calls
    server = GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)
    server.add_service(
        "idmesh.directory.v1.DirectoryService",
        lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(fake, s),
    )
    port = await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop()


@pytest.fixture
def directory_actors(fake_directory: tuple[FakeDirectory, str]) -> list[directory_pb2.Actor]:
    """The actors of every change the fake directory accepted, in order."""
    return fake_directory[0].actors


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
def mesh_env(fake_directory: tuple[FakeDirectory, str], auth_address: str) -> dict[str, str]:
    """The environment a shell on this mesh would have."""
    return {"DIRECTORY_ADDR": fake_directory[1], "AUTH_ADDR": auth_address}


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
    """A fresh account name per test: the fake directory and the database are shared."""
    return f"acme-{uuid.uuid4().hex[:8]}"
