"""A load target of one HTTP GET, the same URL and headers every time, that must answer
``expected``. Picklable: the load generator opens it in its process."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from tests.bench.load import Session


@dataclass(frozen=True)
class HttpGet:
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    expected: int = 200
    timeout: float = 5.0

    def describe(self) -> str:
        return f"GET {self.url}"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        return _GetSession(self, workers)


class _GetSession:
    def __init__(self, target: HttpGet, workers: int) -> None:
        self._target = target
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=workers),
            timeout=aiohttp.ClientTimeout(total=target.timeout),
            headers=dict(target.headers),
        )

    async def call(self, worker: int) -> str | None:
        try:
            async with self._http.get(self._target.url) as response:
                await response.read()
                if response.status != self._target.expected:
                    return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__
        return None

    async def close(self) -> None:
        await self._http.close()
