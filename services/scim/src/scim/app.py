"""Wiring of the scim service: the servicer on a meshkit GrpcServer, talking to the directory.

Shared by ``__main__`` and the integration tests, so tests run the production wiring (error
interceptor and tracing included).
"""

from __future__ import annotations

from typing import Final

from idmesh.scim.v1 import scim_pb2, scim_pb2_grpc
from meshkit.server import GrpcServer
from scim.directory import Directory
from scim.provisioning_log import ProvisioningLog
from scim.servicer import ScimServicer

SERVICE_NAME: Final = scim_pb2.DESCRIPTOR.services_by_name["ScimService"].full_name


def build_server(
    directory: Directory,
    *,
    host: str,
    port: int,
    server: GrpcServer | None = None,
    log: ProvisioningLog | None = None,
) -> GrpcServer:
    """ScimService on ``host:port`` (or on ``server``) backed by ``directory``, recording every
    exchange in ``log`` when given (the caller starts and closes it)."""
    servicer = ScimServicer(directory, log=log)
    grpc_server = server or GrpcServer(host, port)
    grpc_server.add_service(
        SERVICE_NAME, lambda s: scim_pb2_grpc.add_ScimServiceServicer_to_server(servicer, s)
    )
    return grpc_server
