"""The change feed hears of SSO connections: auth tells the directory after each connection is
created, changed, disabled or deleted (auth.feed.report, after auth's own commit).

Connections live in auth's schema and the feed in the directory's; rather than a second outbox
read by the deliverer, auth makes one call in the same request. See docs/events.md.

A mixin placed before SsoMethods in AuthServiceServicer: each RPC runs as before, then reports.
"""

from __future__ import annotations

import uuid
from typing import Any

import grpc

from auth.feed import report
from auth.sso.servicer import Sso
from idmesh.auth.v1 import auth_pb2

Context = grpc.aio.ServicerContext[Any, Any]


def snapshot(connection: auth_pb2.Connection) -> dict[str, Any]:
    """What the feed carries of a connection: no secret, no key, no metadata document."""
    return {
        "id": connection.id,
        "name": connection.name,
        "display_name": connection.display_name,
        "domains": list(connection.domains),
        "enabled": connection.enabled,
        "protocol": connection.WhichOneof("protocol") or "",
        "version": connection.version,
    }


class ConnectionEvents:
    sso: Sso

    async def _report(
        self, account_id: str, action: str, connection_id: str, resource: dict[str, Any]
    ) -> None:
        channel = self.sso.directory_channel
        if channel is not None:
            await report(channel, account_id, action, "connection", connection_id, resource)

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
        gone = {"id": request.connection_id, "deleted": True}
        await self._report(request.account_id, "connection.deleted", request.connection_id, gone)
        return response

    async def _enabled(self, account_id: str, connection_id: str) -> bool:
        try:
            found = await self.sso.connections.get(uuid.UUID(account_id), uuid.UUID(connection_id))
        except Exception:  # the update itself will say what is wrong
            return False
        return bool(found.enabled)
