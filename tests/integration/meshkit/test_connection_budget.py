"""meshkit.database.create_pool against a real PostgreSQL: a service whose workers' pools could
never fit in the server's max_connections refuses to start instead of failing under load with
"too many clients", and otherwise says how many connections it may open."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from meshkit.config import ConfigError
from meshkit.database import create_pool


async def available_connections(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        limit = int(await conn.fetchval("SHOW max_connections"))
        reserved = int(await conn.fetchval("SHOW superuser_reserved_connections"))
        extra = await conn.fetchval("SELECT current_setting('reserved_connections', true)")
    finally:
        await conn.close()
    return limit - reserved - int(extra or 0)


async def test_workers_whose_pools_exceed_max_connections_refuse_to_start(
    database_url: str,
) -> None:
    """WORKERS × DB_POOL_MAX above max_connections minus the reserved ones: ConfigError (exit 2)
    naming both numbers, and the pool it opened to ask is closed again."""
    available = await available_connections(database_url)
    per_worker = available // 2 + 1
    with pytest.raises(ConfigError) as raised:
        await create_pool(database_url, min_size=1, max_size=per_worker, workers=2)
    assert f"WORKERS × DB_POOL_MAX = 2 × {per_worker}" in str(raised.value)
    assert f"= {available})" in str(raised.value)


async def test_workers_whose_pools_fit_log_the_total_they_may_open(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The start-up line an operator checks the connection budget against."""
    caplog.set_level(logging.INFO, logger="meshkit.database")
    available = await available_connections(database_url)
    pool = await create_pool(database_url, min_size=1, max_size=3, workers=4)
    await pool.close()
    assert (
        f"up to 3 connections per worker × 4 workers = 12 of the {available} PostgreSQL accepts"
        in caplog.text
    )
