"""``python -m directory`` (console script idmesh-directory): the directory gRPC service."""

from __future__ import annotations

from directory.app import build_server
from directory.config import DirectoryConfig
from meshkit.config import load_config
from meshkit.database import create_pool
from meshkit.service import run_service


async def serve() -> None:
    """Serves DirectoryService on HOST:PORT until SIGTERM or SIGINT."""
    config = load_config(DirectoryConfig)
    pool = await create_pool(
        config.database_url, min_size=config.db_pool_min, max_size=config.db_pool_max
    )
    try:
        server = build_server(
            pool,
            host=config.host,
            port=config.port,
            allow_private_webhooks=config.webhook_allow_private,
        )
        await server.start()
        await server.serve_until_signal()
    finally:
        await pool.close()


def main() -> None:
    run_service("directory", serve)


if __name__ == "__main__":
    main()
