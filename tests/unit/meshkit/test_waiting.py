"""meshkit.waiting: a loop that waits for an event with a time limit stops when it is cancelled,
even when the event is set in the same turn of the event loop. Python 3.11's asyncio.wait_for
returns the awaited result instead of raising CancelledError when its inner wait finished just
before the cancellation was delivered (CPython gh-86296, fixed in 3.12); a webhook deliverer
whose helper was called in as it was being stopped never stopped."""

from __future__ import annotations

import asyncio

from meshkit.waiting import wait_at_most


async def _waiting_loop(event: asyncio.Event) -> None:
    """What the deliverer's helpers and the provisioning log's writer do: wait, work, again."""
    while True:
        await wait_at_most(event, 30)
        event.clear()


async def test_a_waiting_loop_stops_when_cancelled_as_its_event_is_set() -> None:
    for turns_between in range(4):
        for _ in range(25):
            event = asyncio.Event()
            loop_task = asyncio.create_task(_waiting_loop(event))
            for _ in range(2):
                await asyncio.sleep(0)  # the loop is now waiting
            event.set()
            for _ in range(turns_between):
                await asyncio.sleep(0)
            loop_task.cancel()
            done, _ = await asyncio.wait({loop_task}, timeout=1)
            assert done, f"the cancellation was lost ({turns_between} turns after the set)"
            assert loop_task.cancelled()


async def test_the_wait_says_whether_the_event_was_set_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_at_most(event, 0.01) is False
    event.set()
    assert await wait_at_most(event, 5) is True
    assert await wait_at_most(asyncio.Event(), -1) is False
