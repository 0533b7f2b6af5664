"""Peak resident memory of the mesh's processes while a load runs.

A memory limit is hit at the peak, not at the average, so each service's RSS is sampled every
quarter second (psutil, from the pids the launcher started) for as long as the load lasts, and
the highest sample is kept. Sampling is a few /proc reads: it costs the run nothing measurable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from tests.bench.memory import resident

_INTERVAL_SECONDS = 0.25


class PeakRss:
    """The idle RSS of each named process when created, and its peak while sampling."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self.idle: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        for name, pid in self.pids.items():
            memory = resident(pid)
            if memory is not None:
                self.idle[name] = memory.rss_mib

    def sample(self) -> None:
        for name, pid in self.pids.items():
            memory = resident(pid)
            if memory is not None and memory.rss_mib > self.peak.get(name, 0.0):
                self.peak[name] = memory.rss_mib

    async def _loop(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(_INTERVAL_SECONDS)

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        """Samples in the background for the duration of the ``async with`` block."""
        task = asyncio.create_task(self._loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.sample()
