"""Waiting with a time limit without losing a cancellation.

Python 3.11's ``asyncio.wait_for`` returns the awaited result instead of raising CancelledError
when its inner wait finished just before the cancellation was delivered (CPython gh-86296, fixed
in 3.12): a loop that waits for an event with a time limit, cancelled as the event is set, goes
round again and never stops (a webhook deliverer whose helper was being called in as it was
stopped hung so). ``asyncio.timeout`` tells its own deadline from an outside cancellation, so
every timed wait of the services goes through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_at_most(event: asyncio.Event, seconds: float) -> bool:
    """Waits until ``event`` is set or ``seconds`` have passed; True when it was set."""
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``'s result, or TimeoutError after ``seconds``: ``asyncio.wait_for`` without
    its lost cancellation."""
    async with asyncio.timeout(seconds):
        return await awaitable
