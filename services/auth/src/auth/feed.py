"""How auth tells the directory's change feed about what lives in auth (SSO connections, API
tokens): ``RecordAuthEvent``, after auth's own commit, with a few quick retries. A directory
unreachable through them costs that one event, logged with its target; never auth's change.
See docs/events.md ("Connections live in auth")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import struct_pb2

from idmesh.directory.v1 import directory_pb2, events_pb2, events_pb2_grpc

logger = logging.getLogger(__name__)
ATTEMPTS = 3
AUTH = directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SYSTEM, id="auth", display_name="auth")


async def report(
    channel: grpc.aio.Channel,
    account_id: str,
    action: str,
    target_type: str,
    target_id: str,
    resource: Mapping[str, Any],
) -> None:
    """Records ``action`` of ``target_type`` ``target_id`` in the account's feed."""
    stub = events_pb2_grpc.EventServiceStub(channel)
    snapshot = struct_pb2.Struct()
    snapshot.update(dict(resource))
    request = events_pb2.RecordAuthEventRequest(
        account_id=account_id,
        actor=AUTH,
        action=action,
        target_type=target_type,
        target_id=target_id,
        resource=snapshot,
    )
    for attempt in range(ATTEMPTS):
        try:
            await stub.RecordAuthEvent(request)
            return
        except grpc.aio.AioRpcError:
            if attempt + 1 < ATTEMPTS:
                await asyncio.sleep(0.2 * 2**attempt)
    logger.error("change feed: %s of %s %s not recorded", action, target_type, target_id)
