"""The audit events of self-serve setup, written to directory's audit log.

Auth keeps the setup links; directory keeps the one audit log. Whoever acts — the admin who
creates or revokes a link (the API token, the CLI operator), or the IT admin through the link
(actor ``setup_link``, the link's id) — the gateway records it here, after the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.protobuf import struct_pb2

from idmesh.directory.v1 import directory_pb2 as pb

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

LINK_DISPLAY_NAME = "setup link"


def link_actor(link_id: str) -> pb.Actor:
    """The audit actor of what an IT admin does through a setup link."""
    return pb.Actor(type=pb.ACTOR_TYPE_SETUP_LINK, id=link_id, display_name=LINK_DISPLAY_NAME)


async def record(
    directory: DirectoryServiceAsyncStub,
    account_id: str,
    actor: pb.Actor,
    action: str,
    target_type: str,
    target_id: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    message = struct_pb2.Struct()
    message.update(dict(details or {}))
    await directory.RecordAuditEvent(
        pb.RecordAuditEventRequest(
            account_id=account_id,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=message,
        )
    )
