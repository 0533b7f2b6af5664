"""VerifyApiToken's logic: parse, look up (cache, else one primary-key query), compare, decide.

Every failure, whether malformed, unknown, tampered, revoked or expired, raises the same
Unauthenticated error, so a caller learns nothing about which it was.

The last use of a token is recorded off the hot path: at most once a minute per token, by a
background task whose failure is logged and never fails the verification.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from auth import tokens
from auth.cache import CredentialsCache
from auth.models import TokenCredentials
from meshkit.errors import Unauthenticated

logger = logging.getLogger(__name__)

INVALID_TOKEN: Final = "invalid or expired token"
TOUCH_INTERVAL_SECONDS: Final = 60.0
# Compared against when no row exists, so an unknown id costs the same hashing as a known one.
_NO_HASH: Final = hashlib.sha256(b"no such token").digest()


class CredentialsSource(Protocol):
    """The part of the store verification uses (ApiTokenStore; a fake in unit tests)."""

    async def credentials(self, token_id: uuid.UUID) -> TokenCredentials | None: ...

    async def touch(self, token_id: uuid.UUID) -> None: ...


class ApiTokenVerifier:
    """Answers which token a presented secret is, or raises Unauthenticated."""

    def __init__(
        self,
        source: CredentialsSource,
        cache: CredentialsCache,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._cache = cache
        self._clock = clock
        self._monotonic = monotonic
        self._last_touch: dict[uuid.UUID, float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def verify(self, secret: str) -> TokenCredentials:
        """The credentials of the live token ``secret`` belongs to; Unauthenticated otherwise."""
        token_id = tokens.parse_token_id(secret)
        if token_id is None:
            raise Unauthenticated(INVALID_TOKEN)
        credentials = self._cache.get(token_id)
        if credentials is None:
            loaded_at = self._cache.now()
            credentials = await self._source.credentials(token_id)
            if credentials is not None:
                self._cache.put(credentials, loaded_at)
        stored_hash = _NO_HASH if credentials is None else credentials.secret_hash
        matches = tokens.secret_matches(secret, stored_hash)
        if credentials is None or not matches or not credentials.usable_at(self._clock()):
            raise Unauthenticated(INVALID_TOKEN)
        self._touch_soon(token_id)
        return credentials

    def evict(self, token_id: uuid.UUID) -> None:
        """Forgets any cached copy of ``token_id`` (called when this process revokes it)."""
        self._cache.evict(token_id)

    async def aclose(self) -> None:
        """Waits for last-use updates still running (at shutdown, before the pool closes)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _touch_soon(self, token_id: uuid.UUID) -> None:
        now = self._monotonic()
        last = self._last_touch.get(token_id)
        if last is not None and now - last < TOUCH_INTERVAL_SECONDS:
            return
        if len(self._last_touch) >= 100_000:
            self._last_touch = {
                key: when
                for key, when in self._last_touch.items()
                if now - when < TOUCH_INTERVAL_SECONDS
            }
        self._last_touch[token_id] = now
        task = asyncio.create_task(self._touch(token_id))
        # The event loop keeps only weak references to tasks: hold it until it finishes.
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _touch(self, token_id: uuid.UUID) -> None:
        try:
            await self._source.touch(token_id)
        except Exception as error:
            # A missed last-use time is cosmetic; the verification already succeeded. The error
            # type only: driver messages could quote statement parameters.
            logger.warning(
                "could not record the last use of API token %s: %s",
                token_id,
                type(error).__name__,
            )
