"""The connection behind a login URL (its id is the public handle in the start, callback and ACS
URLs), for both protocols, cached for a few seconds.

A login reads its connection at least twice (start, callback); a short cache spares those
reads. A change or deletion through this process evicts at once; through another replica it
takes effect here within the TTL, as API token revocations do (auth.cache).
"""

from __future__ import annotations

import time
import uuid
from typing import Final

from auth.sso.connection_store import ConnectionStore
from auth.sso.models import Connection
from meshkit.errors import NotFound

CACHE_SECONDS: Final = 5.0
CACHE_ENTRIES: Final = 1000


class LoginConnections:
    def __init__(self, store: ConnectionStore) -> None:
        self._store = store
        self._cached: dict[uuid.UUID, tuple[float, Connection]] = {}

    async def get(self, raw_id: str, protocol: str, *, disabled_too: bool = False) -> Connection:
        """The enabled connection ``raw_id`` of ``protocol``; NOT_FOUND for anything else (an
        unknown, disabled or other-protocol id looks the same from outside). ``disabled_too``:
        a disabled one as well (a callback, which only a test sign-in may finish on it)."""
        try:
            connection_id = uuid.UUID(raw_id)
        except ValueError:
            raise NotFound("connection not found", field="connection_id") from None
        now = time.monotonic()
        cached = self._cached.get(connection_id)
        connection: Connection | None
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            connection = cached[1]
        else:
            connection = await self._store.for_login(connection_id)
            if connection is not None:
                if len(self._cached) >= CACHE_ENTRIES:
                    self._cached.clear()
                self._cached[connection_id] = (now, connection)
        if (
            connection is None
            or not (connection.enabled or disabled_too)
            or connection.protocol != protocol
        ):
            raise NotFound("connection not found", field="connection_id")
        return connection

    def forget(self, connection_id: uuid.UUID) -> None:
        """Drops the cached copy of a connection (called when this process changes it)."""
        self._cached.pop(connection_id, None)
