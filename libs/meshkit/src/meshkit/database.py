"""asyncpg pools, created once at start-up and passed to the stores.

Every worker of a service has its own pool (meshkit.workers), so the service holds up to
``WORKERS × DB_POOL_MAX`` connections. The rule, for every replica of every storing service
together: Σ (replicas × WORKERS × DB_POOL_MAX) + the deliverer's + what migrations and
operators use < PostgreSQL's max_connections − its reserved connections (docs/deployment.md,
"Connection budget"). Without DB_POOL_MAX a worker's pool holds 10 ÷ WORKERS connections
(rounded up, at least 2), so a service's default total stays near today's 10; at start-up
worker 0 logs the total, and a service whose total alone exceeds what PostgreSQL accepts refuses
to start (exit 2) instead of failing under load with "too many clients".
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from meshkit.config import ConfigError
from meshkit.telemetry import instrument_asyncpg
from meshkit.workers import current

logger = logging.getLogger(__name__)

DEFAULT_CONNECTIONS_PER_SERVICE = 10
MIN_CONNECTIONS_PER_WORKER = 2
_LIMITS = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved
"""


def pool_bounds(min_size: int | None, max_size: int | None, workers: int) -> tuple[int, int]:
    """(min, max) connections of one worker's pool from DB_POOL_MIN and DB_POOL_MAX (None:
    unset): DB_POOL_MAX, else 10 ÷ ``workers`` rounded up and at least 2; DB_POOL_MIN, else 2
    (never above the maximum). ConfigError when DB_POOL_MIN exceeds DB_POOL_MAX."""
    upper = max_size
    if upper is None:
        upper = max(MIN_CONNECTIONS_PER_WORKER, -(-DEFAULT_CONNECTIONS_PER_SERVICE // workers))
    lower = min(MIN_CONNECTIONS_PER_WORKER, upper) if min_size is None else min_size
    if lower > upper:
        raise ConfigError(["DB_POOL_MIN must not exceed DB_POOL_MAX"])
    return lower, upper


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
    workers: int | None = None,
) -> asyncpg.Pool:
    """A traced pool on ``url``; waits up to ``wait_seconds`` for the server at start-up (it may
    come up after us under compose or Kubernetes). Later outages are survived by the pool itself:
    broken connections are replaced on their next use, and calls fail as UNAVAILABLE meanwhile.

    ``workers`` (default: this service's WORKERS) pools of ``max_size`` must fit in the server's
    max_connections: ConfigError otherwise (see the module docstring)."""
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
            break
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError) as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("database not reachable yet (%s), retrying", type(error).__name__)
            await asyncio.sleep(0.5)
    try:
        await check_connection_budget(
            pool, max_size, current().count if workers is None else workers
        )
    except BaseException:
        await pool.close()
        raise
    return pool


async def check_connection_budget(pool: asyncpg.Pool, max_size: int, workers: int) -> None:
    """Logs how many connections this service may open (from worker 0 only: one line per
    service), and raises ConfigError when PostgreSQL could never accept that many."""
    limits = await pool.fetchrow(_LIMITS)
    assert limits is not None  # one row, always
    available = int(limits["max_connections"]) - int(limits["reserved"])
    total = workers * max_size
    if total > available:
        raise ConfigError(
            [
                f"WORKERS × DB_POOL_MAX = {workers} × {max_size} = {total} connections, more than"
                f" PostgreSQL accepts ({limits['max_connections']} max_connections − "
                f"{limits['reserved']} reserved = {available}): lower DB_POOL_MAX or WORKERS"
            ]
        )
    if current().runs_background_jobs:
        logger.info(
            "database pools: up to %d connections per worker × %d workers = %d of the %d "
            "PostgreSQL accepts",
            max_size,
            workers,
            total,
            available,
        )
