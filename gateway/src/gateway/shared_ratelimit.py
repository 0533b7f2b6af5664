"""A rate limit that holds one total across every gateway replica and worker process.

The bucket of each key lives in auth's PostgreSQL (auth.rate_buckets: why PostgreSQL and not
Redis is said there; the gateway itself holds no database credentials). Asking auth on every
request would put a network hop and a database write on the request path, so a process *leases*
tokens in small batches (``AuthService.TakeRateTokens``) and spends them locally: it asks again
only when its lease is used up, and with the default limits most requests make no extra call
(SCIM, 200/s in bursts of 1,000: one call per 100 requests).

The bound: auth never grants more than the one bucket holds, and a process admits only tokens
it was granted. Leased-but-unspent tokens are the only slack: at most ``lease`` per key per
process, and ``lease`` is ``max(1, burst // 10)``, so across P processes a key may see at most
``burst + P * lease`` requests in its busiest instant, never the ``P * burst`` of per-process
buckets. Below a burst of 20 a lease is one token: every request is counted by auth and the
total is exact. One lease call per key and process is in flight at a time;
requests that arrive meanwhile wait for it instead of leasing more.

A refusal is remembered until the Retry-After auth announced, so a client hammering past its
limit costs auth nothing more. When auth cannot be reached (or does not answer within
LEASE_DEADLINE), the limit falls back to a bucket in this process for FALLBACK_SECONDS before
trying auth again: per replica for that while, never unlimited, and never a stalled request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import grpc

from gateway.clients import Clients
from gateway.ratelimit import DEFAULT_MAX_KEYS, TokenBucket
from idmesh.auth.v1 import auth_pb2

logger = logging.getLogger(__name__)

LEASE_DEADLINE: Final = 0.5
"""The longest a request waits for a lease; auth answers one in about a millisecond."""
FALLBACK_SECONDS: Final = 5.0
"""How long the local bucket stands in after auth could not be reached."""
MAX_LEASE: Final = 100_000
"""The largest batch auth grants at once (TakeRateTokens' bound)."""


@dataclass(frozen=True)
class Grant:
    tokens: int
    retry_after: float
    """With no tokens: the seconds until one is back."""


Lease = Callable[[str, int, float, float], Awaitable[Grant]]
"""``lease(key, want, rate, burst)``: up to ``want`` tokens of the shared bucket ``key``."""


def lease_size(burst: float) -> int:
    """Tokens asked for at once: a tenth of the burst, at least one."""
    return max(1, min(MAX_LEASE, int(burst // 10)))


def lease_from_auth(clients: Clients) -> Lease:
    """Leases through auth's ``TakeRateTokens``."""

    async def lease(key: str, want: int, rate: float, burst: float) -> Grant:
        granted = await clients.auth.TakeRateTokens(
            auth_pb2.TakeRateTokensRequest(key=key, want=want, rate=rate, burst=burst),
            timeout=LEASE_DEADLINE,
        )
        return Grant(granted.granted, granted.retry_after_seconds)

    return lease


@dataclass
class _Held:
    """What this process holds of one key's bucket."""

    tokens: int = 0
    refused_until: float = 0.0
    asking: asyncio.Future[None] | None = field(default=None, repr=False)


class SharedRateLimit:
    """``rate`` requests a second per key, in bursts of ``burst``, counted once for every
    process that leases from the same buckets. ``name`` keeps this limit's keys apart from
    another's in the shared table (``scim`` → ``scim:<key>``)."""

    def __init__(
        self,
        name: str,
        *,
        rate: float,
        burst: float,
        lease: Lease,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.lease = lease_size(burst)
        self._fallback = TokenBucket(rate=rate, burst=burst, max_keys=max_keys, clock=clock)
        self._ask = lease
        self._max_keys = max_keys
        self._clock = clock
        # key -> what this process holds, least recently used first.
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._fallback_until = 0.0

    @property
    def rate(self) -> float:
        return self._fallback.rate

    @property
    def burst(self) -> float:
        return self._fallback.burst

    async def take(self, key: str) -> float:
        """0 when ``key`` may proceed now (spending a leased token), else the seconds until a
        token is back."""
        while True:
            now = self._clock()
            if now < self._fallback_until:
                return self._fallback.take(key)
            held = self._hold(key)
            if held.tokens > 0:
                held.tokens -= 1
                return 0.0
            if now < held.refused_until:
                return held.refused_until - now
            if held.asking is not None:
                # Another request of this process is leasing for the key: its batch may be
                # enough for us too. shield(): our cancellation must not cancel its lease.
                await asyncio.shield(held.asking)
                continue
            if not await self._renew(key, held):
                return self._fallback.take(key)

    def _hold(self, key: str) -> _Held:
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = _Held()
            while len(self._held) > self._max_keys:
                # Forgetting a key drops its unspent tokens: fewer admitted, never more.
                self._held.popitem(last=False)
        else:
            self._held.move_to_end(key)
        return held

    async def _renew(self, key: str, held: _Held) -> bool:
        """Leases a batch for ``key`` into ``held``; False when auth could not be asked (the
        local bucket stands in from then on, for FALLBACK_SECONDS)."""
        asking = held.asking = asyncio.get_running_loop().create_future()
        try:
            grant = await self._ask(f"{self.name}:{key}", self.lease, self.rate, self.burst)
        except (grpc.aio.AioRpcError, TimeoutError) as error:
            code = error.code().name if isinstance(error, grpc.aio.AioRpcError) else "timeout"
            logger.warning(
                "shared rate limit %s unavailable (%s): counting in this process for %g s",
                self.name,
                code,
                FALLBACK_SECONDS,
            )
            self._fallback_until = self._clock() + FALLBACK_SECONDS
            return False
        finally:
            held.asking = None
            asking.set_result(None)
        held.tokens += grant.tokens
        if not grant.tokens:
            held.refused_until = self._clock() + grant.retry_after
        return True
