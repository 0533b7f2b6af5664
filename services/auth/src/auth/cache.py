"""A short-lived in-process cache of token credentials, so repeated verifications of the same
token (a SCIM client sends thousands of requests with one token) skip the database.

Staleness is bounded by the TTL, at most 5 seconds: a revocation made through another replica
takes effect here within the TTL. A revocation through this process evicts immediately, and a
database read that started before an eviction is never cached afterwards (it could carry the
pre-revocation row). Expiry is not delayed by caching: the verifier checks the cached
expire_time against the clock on every use.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Final

from auth.models import TokenCredentials

MAX_TTL_SECONDS: Final = 5.0
DEFAULT_MAX_ENTRIES: Final = 10_000


class CredentialsCache:
    """token id → credentials, each entry valid for ``ttl`` seconds; ``ttl`` 0 disables it."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"the cache TTL must be between 0 and {MAX_TTL_SECONDS} seconds")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        # Insertion-ordered: the first entries are the oldest, which makes eviction O(1).
        self._entries: dict[uuid.UUID, tuple[float, TokenCredentials]] = {}
        # token id → when it was evicted, kept one TTL: loads started earlier are refused.
        self._evicted: dict[uuid.UUID, float] = {}

    def now(self) -> float:
        """The cache's clock; take it before a database read and pass it to ``put``."""
        return self._clock()

    def get(self, token_id: uuid.UUID) -> TokenCredentials | None:
        """The cached credentials, or None when absent or older than the TTL."""
        entry = self._entries.get(token_id)
        if entry is None:
            return None
        loaded_at, credentials = entry
        if self._clock() - loaded_at >= self._ttl:
            del self._entries[token_id]
            return None
        return credentials

    def put(self, credentials: TokenCredentials, loaded_at: float) -> None:
        """Caches ``credentials`` read from the database at ``loaded_at`` (taken before the
        read), unless the token was evicted since then or the read is already a TTL old."""
        now = self._clock()
        if self._ttl == 0 or now - loaded_at >= self._ttl:
            return
        evicted_at = self._evicted.get(credentials.id)
        if evicted_at is not None and evicted_at >= loaded_at:
            return
        self._entries.pop(credentials.id, None)
        if len(self._entries) >= self._max_entries:
            self._make_room(now)
        # Aged from the read, not from now: an entry is never older than the TTL when served.
        self._entries[credentials.id] = (loaded_at, credentials)

    def evict(self, token_id: uuid.UUID) -> None:
        """Drops ``token_id`` now and refuses any load of it already under way."""
        self._entries.pop(token_id, None)
        now = self._clock()
        if len(self._evicted) >= self._max_entries:
            self._evicted = {
                key: when for key, when in self._evicted.items() if now - when < self._ttl
            }
        self._evicted[token_id] = now

    def _make_room(self, now: float) -> None:
        self._entries = {
            key: entry for key, entry in self._entries.items() if now - entry[0] < self._ttl
        }
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
