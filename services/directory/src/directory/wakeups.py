"""Wake-ups of the change feed: one LISTEN connection per process while anyone waits, fanned
out to the waiters.

The feed's trigger sends ``NOTIFY directory_events, '<account id>'`` at the commit of every
change that made events (and ``directory_webhooks`` when the account has a webhook endpoint).
A notification only says "read again": readers always read the events table, and they also
read again after ``poll_seconds`` without one, so a notification lost with a dropped connection
costs a delay, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from directory.store import Pool
from meshkit.waiting import wait_at_most

CHANNEL: Final = "directory_events"
# Sent only for accounts with an enabled webhook endpoint: what the deliverer listens to.
WEBHOOKS_CHANNEL: Final = "directory_webhooks"
EVERY_ACCOUNT: Final = "*"
logger = logging.getLogger(__name__)


class Wakeups:
    def __init__(self, pool: Pool, *, channel: str = CHANNEL, poll_seconds: float = 1.0) -> None:
        self.pool = pool
        self.channel = channel
        self.poll_seconds = poll_seconds
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._conn: Any = None
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def subscribe(self, account_id: str = EVERY_ACCOUNT) -> AsyncIterator[Waiter]:
        """A waiter woken by each commit of events of ``account_id`` (every account by
        default). Subscribe before the first read, so nothing committed after it is missed."""
        event = asyncio.Event()
        self._waiters.setdefault(account_id, set()).add(event)
        try:
            await self._listen()
            yield Waiter(event, self.poll_seconds)
        finally:
            waiters = self._waiters.get(account_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[account_id]
            if not self._waiters:
                # The last waiter left: give the connection back to the pool.
                await self.close()

    async def _listen(self) -> None:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            try:
                conn = await self.pool.acquire()
                await conn.add_listener(self.channel, self._notified)
            except Exception:
                logger.warning("cannot LISTEN for change-feed wake-ups; polling", exc_info=True)
                return
            self._conn = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        for key in (str(payload), EVERY_ACCOUNT):
            for event in self._waiters.get(key, ()):
                event.set()

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.remove_listener(self.channel, self._notified)
                with contextlib.suppress(Exception):
                    await self.pool.release(conn)


class Waiter:
    def __init__(self, event: asyncio.Event, poll_seconds: float) -> None:
        self._event = event
        self._poll_seconds = poll_seconds

    async def wait(self, at_most: float | None = None) -> None:
        """Until woken, or the poll interval (or ``at_most`` seconds, if sooner) passed."""
        seconds = self._poll_seconds if at_most is None else min(at_most, self._poll_seconds)
        await wait_at_most(self._event, seconds)
        self._event.clear()
