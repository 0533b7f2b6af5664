"""``python -m gateway`` / ``idmesh-gateway``: serve HTTP until SIGTERM, then stop gracefully.

The gRPC channels are closed only after the HTTP server has stopped and its in-flight requests
have finished, so no request loses its peer half-way.
"""

from __future__ import annotations

import logging

from gateway.app import create_app
from gateway.clients import Clients
from gateway.config import load_gateway_config
from gateway.server import HttpServer
from meshkit.service import run_service

logger = logging.getLogger("gateway")


async def serve() -> None:
    """Runs the gateway configured by the environment until SIGTERM or SIGINT."""
    config = load_gateway_config()
    clients = Clients.connect(
        directory_addr=config.directory_addr,
        auth_addr=config.auth_addr,
        scim_addr=config.scim_addr,
    )
    try:
        server = HttpServer(create_app(config, clients), config.host, config.port)
        await server.start()
        logger.info("public URL %s", config.public_url)
        await server.serve_until_signal()
    finally:
        await clients.close()


def main() -> None:
    """The console script ``idmesh-gateway``."""
    run_service("gateway", serve, config=load_gateway_config)


if __name__ == "__main__":
    main()
