"""Token-bucket rate limits keyed by a string (an account id, an OAuth client id, a sign-in
identity), in process memory: the one limiter every rate-limited endpoint of the gateway uses.

Per gateway replica: with N replicas a key may reach N times the rate. That is fine for limits
whose job is to stop a runaway or hostile loop and to shed overload, not to meter usage; a
shared store (and a network hop on every request) would buy exactness nobody needs here.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

DEFAULT_MAX_KEYS: Final = 10_000
"""Buckets kept per limiter: ~100 bytes each, so about a megabyte however many keys are tried."""


class TokenBucket:
    """``rate`` requests a second per key, in bursts of up to ``burst``.

    A key starts with a full bucket; each request takes one token; tokens come back at ``rate``
    a second up to ``burst``. At most ``max_keys`` buckets are kept, the least recently used
    forgotten first: the oldest bucket has had the longest to refill, so forgetting it forgives
    the least. ``clock`` (monotonic seconds) is injectable for tests."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("a token bucket needs rate > 0, burst >= 1 and max_keys >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        # key -> (tokens left, when last refilled); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @classmethod
    def per_period(
        cls, capacity: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> TokenBucket:
        """``capacity`` requests, refilled evenly over ``period`` seconds (5 a minute, …)."""
        return cls(rate=capacity / period, burst=capacity, clock=clock)

    def take(self, key: str) -> float:
        """0 when ``key`` may proceed now (and spends one of its tokens), else the seconds
        until a token is back (nothing is spent: a refused request costs the caller nothing
        more, so a client that honours Retry-After gets through when it retries)."""
        now = self._clock()
        tokens, then = self._buckets.pop(key, (self.burst, now))
        # max(): a clock that steps back (an injected one) never takes tokens away.
        tokens = min(self.burst, tokens + max(0.0, now - then) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)

    def clear(self) -> None:
        """Forgets every key (every bucket full again)."""
        self._buckets.clear()

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


def retry_after(seconds: float) -> str:
    """An RFC 9110 §10.2.3 ``Retry-After`` value (delay-seconds): whole seconds rounded up, so a
    client that waits that long finds a token, and at least 1."""
    return str(max(1, math.ceil(seconds)))
