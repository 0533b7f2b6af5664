"""meshkit.database: pools whose release does not cost a round trip, yet never leak a
transaction to the next user of a connection."""

from __future__ import annotations

from meshkit.database import create_pool


async def test_a_connection_released_inside_a_transaction_comes_back_clean(
    database_url: str,
) -> None:
    """The release-time reset rolls back what a caller left open (e.g. a cancelled handler)."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE leftover (x int)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.leftover')") is None
    finally:
        await pool.close()
