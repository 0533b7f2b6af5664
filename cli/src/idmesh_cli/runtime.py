"""What a command runs with: the configuration, the peers it calls, the actor it acts as and
where it prints. Channels are opened on first use and closed once the command ends."""

from __future__ import annotations

import getpass
import os
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

import grpc

from idmesh.auth.v1 import auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc, events_pb2_grpc
from idmesh_cli.config import PeersConfig
from idmesh_cli.errors import CliError, rpc_failure
from idmesh_cli.local_mesh import with_local_mesh
from idmesh_cli.output import Output
from meshkit.channels import connect
from meshkit.config import load_config

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub
    from idmesh.directory.v1.events_pb2_grpc import EventServiceAsyncStub

S = TypeVar("S")
T = TypeVar("T")


class Peer(Generic[S]):
    """A service the command calls: ``await peer.call(peer.stub.Method(request))`` turns a
    failure into a one-line CliError naming the peer and its address."""

    def __init__(self, name: str, address: str, channel: grpc.aio.Channel, stub: S) -> None:
        self.name = name
        self.address = address
        self.channel = channel
        self.stub = stub

    async def call(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except grpc.aio.AioRpcError as error:
            raise rpc_failure(self.name, self.address, error) from None


def operator_name() -> str:
    """The OS user running the CLI, recorded as the actor of every change it makes."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return "unknown"


class Runtime:
    def __init__(self, output: Output, environ: Mapping[str, str] | None = None) -> None:
        self.output = output
        self._given = environ
        self._environ: dict[str, str] | None = None
        self._config: PeersConfig | None = None
        self._directory: Peer[DirectoryServiceAsyncStub] | None = None
        self._auth: Peer[AuthServiceAsyncStub] | None = None
        self.operator = operator_name()

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment the configuration is read from: the given one (else os.environ),
        completed by the addresses of the local ``make run`` (idmesh_cli.local_mesh)."""
        if self._environ is None:
            self._environ = with_local_mesh(os.environ if self._given is None else self._given)
        return self._environ

    @property
    def config(self) -> PeersConfig:
        if self._config is None:
            self._config = load_config(PeersConfig, self.environ)
        return self._config

    @property
    def directory(self) -> Peer[DirectoryServiceAsyncStub]:
        if self._directory is None:
            address = self.config.directory_addr
            channel = connect(address, spread=False)
            self._directory = Peer(
                "directory", address, channel, directory_pb2_grpc.DirectoryServiceStub(channel)
            )
        return self._directory

    @property
    def events(self) -> Peer[EventServiceAsyncStub]:
        """The directory's change feed and webhook endpoints (same address and channel)."""
        directory = self.directory
        stub = events_pb2_grpc.EventServiceStub(directory.channel)
        return Peer(directory.name, directory.address, directory.channel, stub)

    @property
    def auth(self) -> Peer[AuthServiceAsyncStub]:
        if self._auth is None:
            address = self.config.auth_addr
            channel = connect(address, spread=False)
            self._auth = Peer("auth", address, channel, auth_pb2_grpc.AuthServiceStub(channel))
        return self._auth

    def actor(self) -> directory_pb2.Actor:
        """The directory's audit actor for changes made through the CLI."""
        return directory_pb2.Actor(
            type=directory_pb2.ACTOR_TYPE_CLI, id=self.operator, display_name=self.operator
        )

    async def account(self, name: str) -> directory_pb2.Account:
        """The account named ``name``; "account 'acme' not found" when there is none."""
        try:
            response = await self.directory.stub.GetAccount(
                directory_pb2.GetAccountRequest(name=name)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                raise CliError(f"account {name!r} not found") from None
            raise rpc_failure(self.directory.name, self.directory.address, error) from None
        return response.account

    async def close(self) -> None:
        for peer in (self._directory, self._auth):
            if peer is not None:
                await peer.channel.close()
