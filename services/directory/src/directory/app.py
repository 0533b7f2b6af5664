"""Wiring of the directory service: stores and servicer on a meshkit GrpcServer.

Shared by ``__main__`` and the integration tests, so tests run the production wiring (error
interceptor included).
"""

from __future__ import annotations

from typing import Final

from directory.domains.dns import DnsChecker
from directory.servicer import DirectoryServicer
from directory.store import Pool, Stores
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from meshkit.server import GrpcServer

SERVICE_NAME: Final = directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"].full_name


def build_server(
    pool: Pool,
    *,
    host: str,
    port: int,
    server: GrpcServer | None = None,
    dns: DnsChecker | None = None,
) -> GrpcServer:
    """DirectoryService on ``host:port`` (or on ``server``) backed by ``pool``; schema
    directory must be migrated. ``dns`` verifies domains (default: the system resolver)."""
    servicer = DirectoryServicer(Stores.on(pool), dns)
    grpc_server = server or GrpcServer(host, port)
    grpc_server.add_service(
        SERVICE_NAME,
        lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(servicer, s),
    )
    return grpc_server
