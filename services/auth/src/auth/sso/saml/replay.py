"""The SAML replay cache shared by every auth replica (docs/sso-security.md §2 row 8).

python3-saml accepts the same response twice; this closes that. Each accepted Response ID and
Assertion ID is claimed once per connection until the assertion expires; the claim is an
``INSERT ... ON CONFLICT DO NOTHING`` in one transaction, so two replicas racing on the same
response cannot both win.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Protocol

import asyncpg

_CLAIM: Final = """
INSERT INTO auth.saml_replay_cache (connection_id, id_hash, expire_time)
SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h
ON CONFLICT (connection_id, id_hash) DO UPDATE
    SET expire_time = EXCLUDED.expire_time
    WHERE saml_replay_cache.expire_time <= now()
RETURNING id_hash
"""
_PURGE: Final = "DELETE FROM auth.saml_replay_cache WHERE expire_time <= now()"


def id_hash(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"{kind}\x00{value}".encode()).digest()


class ReplayCache(Protocol):
    async def claim(
        self, connection_id: uuid.UUID, ids: Sequence[tuple[str, str]], expire_at: float
    ) -> bool:
        """True when none of ``ids`` ((kind, id) pairs) was seen before; records them all."""
        ...


class PostgresReplayCache:
    """The shared cache on schema auth."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(
        self, connection_id: uuid.UUID, ids: Sequence[tuple[str, str]], expire_at: float
    ) -> bool:
        hashes = sorted({id_hash(kind, value) for kind, value in ids if value})
        if not hashes:
            return False
        expire_time = datetime.fromtimestamp(expire_at, UTC)
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                inserted = await connection.fetch(_CLAIM, connection_id, hashes, expire_time)
                if len(inserted) != len(hashes):
                    # Roll back the ids this attempt did claim: a replay claims nothing.
                    raise _Replayed
        except _Replayed:
            return False
        return True

    async def purge(self) -> int:
        result: str = await self._pool.execute(_PURGE)
        return int(result.split()[-1])


class _Replayed(Exception):
    pass
