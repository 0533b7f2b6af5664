"""asyncpg pools, created once at start-up and passed to the stores."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from meshkit.telemetry import instrument_asyncpg

logger = logging.getLogger(__name__)


async def _rollback_if_open(conn: asyncpg.Connection) -> None:
    """Release-time reset. asyncpg's default (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL)
    costs a round trip on every release, which on a point read doubles the database time. Our
    services keep no session state outside transactions (no LISTEN, no session advisory locks,
    no SET), so only an unfinished transaction needs undoing."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    command_timeout: float = 10.0,
    wait_seconds: float = 30.0,
) -> asyncpg.Pool:
    """A traced pool on ``url``; waits up to ``wait_seconds`` for the server at start-up (it may
    come up after us under compose or Kubernetes). Later outages are survived by the pool itself:
    broken connections are replaced on their next use, and calls fail as UNAVAILABLE meanwhile."""
    instrument_asyncpg()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                command_timeout=command_timeout,
                reset=_rollback_if_open,
                # Idle connections are recycled so a restarted server is picked up cleanly.
                max_inactive_connection_lifetime=60.0,
            )
            return pool
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError) as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("database not reachable yet (%s), retrying", type(error).__name__)
            await asyncio.sleep(0.5)
