"""The change feed hears of SSO connections: auth tells the directory (RecordConnectionEvent)
after each connection is created, changed, disabled or deleted.

Connections live in auth's schema and the feed in the directory's; rather than a second outbox
read by the deliverer, auth makes one call in the same request, after its own commit, with a few
quick retries. A directory that stays unreachable through them costs that one event (logged with
the connection id); the connection change itself stands. See docs/events.md.

A mixin placed before SsoMethods in AuthServiceServicer: each RPC runs as before, then reports.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import grpc
from google.protobuf import struct_pb2

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2, events_pb2, events_pb2_grpc

logger = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]
ATTEMPTS = 3


def snapshot(connection: auth_pb2.Connection) -> struct_pb2.Struct:
    """What the feed carries of a connection: no secret, no key, no metadata document."""
    resource = struct_pb2.Struct()
    resource.update(
        {
            "id": connection.id,
            "name": connection.name,
            "display_name": connection.display_name,
            "domains": list(connection.domains),
            "enabled": connection.enabled,
            "protocol": connection.WhichOneof("protocol") or "",
            "version": connection.version,
        }
    )
    return resource


class ConnectionEvents:
    sso: Any  # auth.sso.servicer.Sso: its directory stub

    async def _report(
        self, account_id: str, action: str, connection_id: str, resource: struct_pb2.Struct
    ) -> None:
        # Sso's own channel to the directory; none when a test gave Sso a directory stub.
        channel = getattr(self.sso, "_channel", None)
        if channel is None:
            return
        stub = events_pb2_grpc.EventServiceStub(channel)
        request = events_pb2.RecordConnectionEventRequest(
            account_id=account_id,
            actor=directory_pb2.Actor(
                type=directory_pb2.ACTOR_TYPE_SYSTEM, id="auth", display_name="auth"
            ),
            action=action,
            connection_id=connection_id,
            connection=resource,
        )
        for attempt in range(ATTEMPTS):
            try:
                await stub.RecordConnectionEvent(request)
                return
            except grpc.aio.AioRpcError:
                if attempt + 1 < ATTEMPTS:
                    await asyncio.sleep(0.2 * 2**attempt)
        logger.error("change feed: %s of connection %s not recorded", action, connection_id)

    async def CreateConnection(
        self, request: auth_pb2.CreateConnectionRequest, context: Context
    ) -> auth_pb2.CreateConnectionResponse:
        response: auth_pb2.CreateConnectionResponse = await super().CreateConnection(  # type: ignore[misc]
            request, context
        )
        created = response.connection
        await self._report(created.account_id, "connection.created", created.id, snapshot(created))
        return response

    async def CreateSamlConnection(
        self, request: auth_pb2.CreateSamlConnectionRequest, context: Context
    ) -> auth_pb2.CreateSamlConnectionResponse:
        response: auth_pb2.CreateSamlConnectionResponse = await super().CreateSamlConnection(  # type: ignore[misc]
            request, context
        )
        created = response.connection
        await self._report(created.account_id, "connection.created", created.id, snapshot(created))
        return response

    async def UpdateConnection(
        self, request: auth_pb2.UpdateConnectionRequest, context: Context
    ) -> auth_pb2.UpdateConnectionResponse:
        before = await self._enabled(request.account_id, request.connection_id)
        response: auth_pb2.UpdateConnectionResponse = await super().UpdateConnection(  # type: ignore[misc]
            request, context
        )
        after = response.connection
        action = "connection.disabled" if before and not after.enabled else "connection.updated"
        await self._report(after.account_id, action, after.id, snapshot(after))
        return response

    async def DeleteConnection(
        self, request: auth_pb2.DeleteConnectionRequest, context: Context
    ) -> auth_pb2.DeleteConnectionResponse:
        response: auth_pb2.DeleteConnectionResponse = await super().DeleteConnection(  # type: ignore[misc]
            request, context
        )
        gone = struct_pb2.Struct()
        gone.update({"id": request.connection_id, "deleted": True})
        await self._report(request.account_id, "connection.deleted", request.connection_id, gone)
        return response

    async def _enabled(self, account_id: str, connection_id: str) -> bool:
        try:
            found = await self.sso.connections.get(uuid.UUID(account_id), uuid.UUID(connection_id))
        except Exception:  # the update itself will say what is wrong
            return False
        return bool(found.enabled)
