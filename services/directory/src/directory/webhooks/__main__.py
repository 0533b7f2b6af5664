"""``python -m directory.webhooks`` (console script idmesh-deliverer): the webhook deliverer.

One process whatever WORKERS says: its work is waiting for webhook endpoints to answer, which
WEBHOOK_WORKERS concurrent deliveries in one event loop already overlap, so a second process
would add no throughput; and any number of deliverers may run side by side (replicas claim
endpoints with SKIP LOCKED), so it scales out by replicas when it must."""

from __future__ import annotations

import asyncio

from directory.webhooks.config import DelivererConfig
from directory.webhooks.deliverer import Deliverer
from meshkit.config import load_config
from meshkit.database import create_pool
from meshkit.server import GrpcServer
from meshkit.service import run_service


async def serve() -> None:
    """Delivers until SIGTERM or SIGINT; serves gRPC health on HOST:PORT for probes."""
    config = load_config(DelivererConfig)
    pool = await create_pool(config.database_url, min_size=1, max_size=config.db_pool_max)
    health = GrpcServer(config.host, config.port)
    delivering = asyncio.create_task(Deliverer(pool, config).run())
    try:
        await health.start()
        await health.serve_until_signal()
    finally:
        delivering.cancel()
        await asyncio.gather(delivering, return_exceptions=True)
        await pool.close()


def main() -> None:
    run_service("deliverer", serve)


if __name__ == "__main__":
    main()
