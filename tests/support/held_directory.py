"""A directory that holds every GetUser call until the test lets them go: what a SCIM request in
flight looks like from scim's side while its workers are told to stop. Served on a real meshkit
GrpcServer, as the gateway's fakes are (tests/support/gateway_peers.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from meshkit.errors import NotFound

Context = grpc.aio.ServicerContext[Any, Any]


class HeldDirectory(directory_pb2_grpc.DirectoryServiceServicer):
    """GetUser counts the call, waits for ``release()``, then answers NOT_FOUND; provisioning
    events are taken and forgotten."""

    def __init__(self) -> None:
        self.held = 0
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def GetUser(
        self, request: directory_pb2.GetUserRequest, context: Context
    ) -> directory_pb2.GetUserResponse:
        self.held += 1
        await self._released.wait()
        raise NotFound(f"no user {request.user_id}", field="user_id")

    async def RecordProvisioningEvents(
        self, request: directory_pb2.RecordProvisioningEventsRequest, context: Context
    ) -> directory_pb2.RecordProvisioningEventsResponse:
        return directory_pb2.RecordProvisioningEventsResponse()
