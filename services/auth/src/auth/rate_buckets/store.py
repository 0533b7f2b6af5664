"""The token buckets of the shared rate limits, one row of ``auth.rate_buckets`` per key.

Why PostgreSQL: the limits must hold one total across gateway replicas and their worker
processes, so the buckets live in a store they all reach. auth already owns a PostgreSQL schema
(the gateway holds no database credentials, on purpose), and PostgreSQL is what every idmesh
installation runs, a developer's machine included; Redis would be one more server to deploy,
secure and back up for a few rows. The cost stays off the request path because gateways lease
tokens in batches (gateway.shared_ratelimit): one statement here per batch, not per request.

A take is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: refill by the time elapsed,
then hand out up to ``want`` whole tokens, under the row's lock. Two replicas racing on one key
are serialised there, so together they can never take more than the one bucket holds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

import asyncpg

logger = logging.getLogger(__name__)

SWEEP_SECONDS: Final = 60.0
"""How often rows that have refilled are deleted (a missing row is a full bucket)."""

# The bucket's tokens now: what it held, plus what ``rate`` refilled since, up to ``burst``.
# greatest(0, ...): a transaction that started before the row's last update (it waited for the
# lock) refills nothing rather than a negative amount.
_AVAILABLE: Final = (
    "least($4, rate_buckets.tokens + greatest(0, extract(epoch FROM now() - "
    "rate_buckets.update_time)::double precision) * $3)"
)
# Whole tokens only; the epsilon keeps a bucket refilled to exactly 1 (0.9999999999 in floating
# point after waiting precisely the announced retry-after) from refusing.
_GRANT: Final = f"least($2, floor({_AVAILABLE} + 1e-9))"
_TAKE: Final = f"""
INSERT INTO auth.rate_buckets AS rate_buckets (key, tokens, rate, burst, granted, update_time)
VALUES ($1, $4 - least($2, floor($4)), $3, $4, least($2, floor($4)), now())
ON CONFLICT (key) DO UPDATE SET
    tokens = greatest(0, {_AVAILABLE} - {_GRANT}),
    granted = {_GRANT},
    rate = $3,
    burst = $4,
    update_time = greatest(rate_buckets.update_time, now())
RETURNING granted, tokens
"""  # noqa: S608 (constant SQL: no value is interpolated)
_SWEEP: Final = """
DELETE FROM auth.rate_buckets
WHERE tokens + extract(epoch FROM now() - update_time)::double precision * rate >= burst
"""


@dataclass(frozen=True)
class Taken:
    granted: int
    retry_after: float
    """With nothing granted: the seconds until one token is back; else 0."""


class RateBuckets:
    """``auth.rate_buckets`` on ``pool``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def take(self, key: str, want: int, rate: float, burst: float) -> Taken:
        """Up to ``want`` tokens of bucket ``key`` (``rate`` a second, at most ``burst``)."""
        row = await self._pool.fetchrow(_TAKE, key, want, rate, burst)
        assert row is not None  # an upsert always returns its row
        granted = int(row["granted"])
        if granted:
            return Taken(granted, 0.0)
        return Taken(0, max(0.0, 1.0 - float(row["tokens"])) / rate)

    async def sweep(self) -> int:
        """Deletes the buckets that have refilled; how many."""
        status = await self._pool.execute(_SWEEP)
        return int(status.split()[-1])

    async def sweep_forever(self) -> None:
        """``sweep`` every SWEEP_SECONDS until cancelled; a failed sweep is retried next time
        (rows only wait longer to go)."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except (asyncpg.PostgresError, OSError) as error:
                logger.warning("rate bucket sweep failed: %s", type(error).__name__)
