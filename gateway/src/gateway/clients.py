"""Typed gRPC clients of every peer the gateway calls, in one place.

One channel per peer (meshkit.channels.connect: tracing, a default deadline, round-robin over
replicas and over each replica's workers), created at start-up, shared by every request and
closed once on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import grpc

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc, events_pb2_grpc
from idmesh.scim.v1 import scim_pb2, scim_pb2_grpc
from meshkit.channels import connect

if TYPE_CHECKING:
    # The async stub types exist only for type checkers (mypy-protobuf, type_check_only).
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub
    from idmesh.directory.v1.events_pb2_grpc import EventServiceAsyncStub
    from idmesh.scim.v1.scim_pb2_grpc import ScimServiceAsyncStub


def _service_name(module: ModuleType, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


@dataclass(frozen=True)
class Peer:
    """A downstream service: its name in messages, its address and its channel."""

    name: str
    address: str
    service: str
    """The full gRPC service name, checked by the readiness probe."""
    channel: grpc.aio.Channel


class Clients:
    """The stubs ``directory`` (and ``events``, the directory's change feed), ``auth`` and
    ``scim``, and the peers behind them."""

    def __init__(self, peers: Mapping[str, Peer]) -> None:
        self.peers = dict(peers)
        self.directory: DirectoryServiceAsyncStub = directory_pb2_grpc.DirectoryServiceStub(
            self.peers["directory"].channel
        )
        self.events: EventServiceAsyncStub = events_pb2_grpc.EventServiceStub(
            self.peers["directory"].channel
        )
        self.auth: AuthServiceAsyncStub = auth_pb2_grpc.AuthServiceStub(self.peers["auth"].channel)
        self.scim: ScimServiceAsyncStub = scim_pb2_grpc.ScimServiceStub(self.peers["scim"].channel)

    @classmethod
    def connect(cls, *, directory_addr: str, auth_addr: str, scim_addr: str) -> Clients:
        """Opens one channel per peer. Nothing is dialled yet: channels connect on first use, so
        the gateway starts (and answers /healthz) while peers are still coming up."""
        targets = {
            "directory": (directory_addr, _service_name(directory_pb2, "DirectoryService")),
            "auth": (auth_addr, _service_name(auth_pb2, "AuthService")),
            "scim": (scim_addr, _service_name(scim_pb2, "ScimService")),
        }
        return cls(
            {
                name: Peer(name, address, service, connect(address))
                for name, (address, service) in targets.items()
            }
        )

    async def close(self) -> None:
        """Closes every channel; calls still in flight are cancelled."""
        await asyncio.gather(*(peer.channel.close() for peer in self.peers.values()))
