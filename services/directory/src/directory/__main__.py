"""``python -m directory`` (console script idmesh-directory): the directory gRPC service, and
the background re-check of verified domains (in worker 0 only when it runs several workers). At
start-up, before serving, it seals any webhook signing secret still stored in plaintext
(migration 0007)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from directory.app import build_server
from directory.config import DirectoryConfig
from directory.domains.dns import DnsChecker
from directory.domains.recheck import DomainRecheck
from directory.store.domains import DomainStore
from directory.webhooks.secrets import seal_plaintext_secrets
from meshkit.config import load_config
from meshkit.database import create_pool
from meshkit.service import run_service
from meshkit.workers import current


async def serve() -> None:
    """Serves DirectoryService on HOST:PORT until SIGTERM or SIGINT."""
    config = load_config(DirectoryConfig)
    secretbox = config.secretbox()
    min_size, max_size = config.pool_bounds()
    pool = await create_pool(config.database_url, min_size=min_size, max_size=max_size)
    dns = DnsChecker(config.dns_nameservers)
    recheck = DomainRecheck(
        DomainStore(pool),
        dns,
        interval=timedelta(seconds=config.domain_recheck_interval),
        grace=timedelta(seconds=config.domain_grace_period),
    )
    recheck_task: asyncio.Task[None] | None = None
    try:
        await seal_plaintext_secrets(pool, secretbox)
        server = build_server(
            pool,
            host=config.host,
            port=config.port,
            secretbox=secretbox,
            dns=dns,
            allow_private_webhooks=config.webhook_allow_private,
        )
        await server.start()
        if current().runs_background_jobs:
            recheck_task = asyncio.create_task(recheck.run_forever(), name="domain-recheck")
        await server.serve_until_signal()
    finally:
        if recheck_task is not None:
            recheck_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recheck_task
        await pool.close()


def main() -> None:
    run_service("directory", serve, config=lambda: load_config(DirectoryConfig))


if __name__ == "__main__":
    main()
