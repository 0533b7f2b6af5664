"""Wiring of the directory service: stores and servicer on a meshkit GrpcServer.

Shared by ``__main__`` and the integration tests, so tests run the production wiring (error
interceptor included).
"""

from __future__ import annotations

from typing import Final

from directory.domains.dns import DnsChecker
from directory.event_servicer import EventServicer
from directory.servicer import DirectoryServicer
from directory.store import Pool, Stores
from directory.wakeups import Wakeups
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc, events_pb2, events_pb2_grpc
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer

SERVICE_NAME: Final = directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"].full_name
EVENT_SERVICE_NAME: Final = events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name


def build_server(
    pool: Pool,
    *,
    host: str,
    port: int,
    secretbox: SecretBox,
    server: GrpcServer | None = None,
    dns: DnsChecker | None = None,
    allow_private_webhooks: bool = False,
) -> GrpcServer:
    """DirectoryService and EventService on ``host:port`` (or on ``server``) backed by
    ``pool``; schema directory must be migrated. ``secretbox`` seals webhook signing secrets
    (IDMESH_ENCRYPTION_KEY); ``dns`` verifies domains (default: the system resolver)."""
    stores = Stores.on(pool, secretbox)
    servicer = DirectoryServicer(stores, dns)
    events = EventServicer(stores, Wakeups(pool), allow_private=allow_private_webhooks)
    grpc_server = server or GrpcServer(host, port)
    grpc_server.add_service(
        SERVICE_NAME,
        lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(servicer, s),
    )
    grpc_server.add_service(
        EVENT_SERVICE_NAME,
        lambda s: events_pb2_grpc.add_EventServiceServicer_to_server(events, s),
    )
    return grpc_server
