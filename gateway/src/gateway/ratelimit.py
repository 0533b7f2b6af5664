"""Rate limits keyed by a string (an account id, an OAuth client id, a sign-in identity): the
one interface every rate-limited endpoint of the gateway uses, ``RateLimit.take(key)`` → the
seconds to wait (0: go ahead), and the token bucket in this process's memory behind it.

Two implementations: ``LocalRateLimit`` (this module) counts in one process, so N replicas (or
worker processes) would let a key reach N times the rate; ``SharedRateLimit``
(gateway.shared_ratelimit) holds one total across every replica and worker, leasing tokens in
small batches from a bucket in auth's PostgreSQL. The SCIM and token endpoint limits are
shared; the admin sign-in limiter (gateway.admin.ratelimit) stays local and synchronous on
``TokenBucket``: a few more guesses per replica are within its purpose.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Protocol

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


class RateLimit(Protocol):
    """``rate`` requests a second per key, in bursts of up to ``burst``."""

    @property
    def rate(self) -> float: ...

    @property
    def burst(self) -> float: ...

    async def take(self, key: str) -> float:
        """0 when ``key`` may proceed now (and spends one of its tokens), else the seconds
        until a token is back (a refused request spends nothing)."""
        ...


class LocalRateLimit:
    """A RateLimit on one TokenBucket of this process: per replica and per worker."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    @classmethod
    def of(
        cls,
        *,
        rate: float,
        burst: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> LocalRateLimit:
        return cls(TokenBucket(rate=rate, burst=burst, max_keys=max_keys, clock=clock))

    @property
    def rate(self) -> float:
        return self.bucket.rate

    @property
    def burst(self) -> float:
        return self.bucket.burst

    async def take(self, key: str) -> float:
        return self.bucket.take(key)


def retry_after(seconds: float) -> str:
    """An RFC 9110 §10.2.3 ``Retry-After`` value (delay-seconds): whole seconds rounded up, so a
    client that waits that long finds a token, and at least 1."""
    return str(max(1, math.ceil(seconds)))
