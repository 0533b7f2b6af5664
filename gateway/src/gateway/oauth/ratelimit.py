"""A token-bucket rate limiter keyed by a string (the OAuth client id), in process memory.

Per gateway replica: with N replicas a client may reach N times the rate, which is fine for a
limit whose job is to stop a runaway or hostile loop, not to meter usage.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web


class RateLimiter:
    """``rate`` requests a second per key, bursts of up to ``burst``."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        max_keys: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._monotonic = monotonic
        # key -> (tokens left, when last refilled); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str) -> float:
        """0 when ``key`` may proceed now (and spends one token), else the seconds to wait."""
        now = self._monotonic()
        tokens, then = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self._rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            # The oldest bucket is the fullest by now: dropping it forgives little.
            self._buckets.popitem(last=False)


def retry_after(seconds: float) -> str:
    """An RFC 9110 §10.2.3 Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


TOKEN_RATE_LIMIT: web.AppKey[RateLimiter] = web.AppKey("token_rate_limit", RateLimiter)
