"""The gateway's RateLimit interface (gateway.ratelimit): the same cases against the bucket in
one process (LocalRateLimit) and the bucket shared through auth (SharedRateLimit, leasing from
the real auth service over gRPC and the session's PostgreSQL), then what only the shared one
promises: one total across replicas, few calls to auth, and a fallback when auth is away.

Buckets that must not refill during a test refill at 0.001 tokens a second (a whole token would
take a quarter of an hour), so no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from auth.app import build_app
from gateway.clients import Clients
from gateway.ratelimit import LocalRateLimit, RateLimit
from gateway.shared_ratelimit import Grant, Lease, SharedRateLimit, lease_from_auth, lease_size
from meshkit.database import create_pool
from meshkit.server import GrpcServer
from tests.support.gateway_peers import unused_address

pytestmark = pytest.mark.integration

NO_REFILL = 0.001
RateLimitFactory = Callable[[float, float], RateLimit]
"""``make(rate, burst)``: a new limiter (for the shared kind, on buckets of its own)."""


def clients_of(auth_address: str) -> Clients:
    return Clients.connect(
        directory_addr=unused_address(), auth_addr=auth_address, scim_addr=unused_address()
    )


@pytest.fixture(scope="module")
async def auth_address(database_url: str) -> AsyncIterator[str]:
    """The real auth service (production wiring) on a free port."""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    app = build_app(
        pool,
        host="127.0.0.1",
        port=0,
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
    )
    port = await app.start()
    yield f"127.0.0.1:{port}"
    await app.stop()
    await pool.close()


@pytest.fixture(scope="module")
async def auth_clients(auth_address: str) -> AsyncIterator[Clients]:
    clients = clients_of(auth_address)
    yield clients
    await clients.close()


def shared(lease: Lease, name: str | None = None) -> RateLimitFactory:
    """Shared limiters leasing through ``lease``, on buckets named ``name`` (default: new
    ones for each limiter)."""

    def make(rate: float, burst: float) -> RateLimit:
        return SharedRateLimit(name or f"test-{uuid.uuid4()}", rate=rate, burst=burst, lease=lease)

    return make


@pytest.fixture(params=["local", "shared"])
def make_limit(request: pytest.FixtureRequest, auth_clients: Clients) -> RateLimitFactory:
    if request.param == "local":
        return lambda rate, burst: LocalRateLimit.of(rate=rate, burst=burst)
    return shared(lease_from_auth(auth_clients))


async def admitted(limit: RateLimit, key: str, requests: int) -> int:
    """How many of ``requests`` takes, all at once, were let through."""
    waits = await asyncio.gather(*(limit.take(key) for _ in range(requests)))
    return sum(wait == 0 for wait in waits)


# -- the contract: both implementations -----------------------------------------------------


async def test_a_key_gets_its_burst_at_once_and_then_the_wait_for_the_next_token(
    make_limit: RateLimitFactory,
) -> None:
    """A token bucket: ``burst`` requests at once, the next one told how long to wait (at
    most the time one token takes to come back)."""
    limit = make_limit(NO_REFILL, 30)
    assert await admitted(limit, "acme", 30) == 30
    wait = await limit.take("acme")
    assert 0 < wait <= 1 / NO_REFILL


async def test_many_requests_at_once_share_the_burst_exactly(
    make_limit: RateLimitFactory,
) -> None:
    """Three bursts' worth of concurrent requests: exactly one burst goes through."""
    limit = make_limit(NO_REFILL, 25)
    assert await admitted(limit, "acme", 75) == 25


async def test_one_key_past_its_limit_never_slows_another(make_limit: RateLimitFactory) -> None:
    """Per account: one tenant's burst does not throttle another."""
    limit = make_limit(NO_REFILL, 5)
    assert await admitted(limit, "acme", 10) == 5
    assert await admitted(limit, "globex", 5) == 5


async def test_a_client_that_waits_the_announced_time_gets_through(
    make_limit: RateLimitFactory,
) -> None:
    """Tokens come back at ``rate`` and a refused request spends nothing, so waiting what the
    refusal said is enough (plus a millisecond: floating-point rounding of the wait)."""
    limit = make_limit(20.0, 1)
    assert await limit.take("acme") == 0
    wait = await limit.take("acme")
    if wait:  # a slow machine may already have refilled the bucket
        assert wait <= 1 / 20.0
        await asyncio.sleep(wait + 0.001)
    assert await limit.take("acme") == 0


# -- what only the shared limit promises ----------------------------------------------------


async def test_two_replicas_admit_one_burst_in_total(auth_clients: Clients) -> None:
    """The reason for sharing: two gateways (or workers) on one key admit the key's burst
    together, not each. Each leases 3 tokens at a time (a tenth of 30) and has more requests
    than tokens, so no lease is left unspent and the total is exact."""
    lease = lease_from_auth(auth_clients)
    name = f"test-{uuid.uuid4()}"
    first, second = shared(lease, name)(NO_REFILL, 30), shared(lease, name)(NO_REFILL, 30)
    together = await asyncio.gather(admitted(first, "acme", 40), admitted(second, "acme", 40))
    assert sum(together) == 30


async def test_leasing_makes_one_call_to_auth_per_tenth_of_the_burst(
    auth_clients: Clients,
) -> None:
    """The per-request cost: a burst of 100 leases 10 tokens a call, so 100 requests make 10
    calls; the refusal that follows makes one, and refusals until its Retry-After make none."""
    calls: list[int] = []
    real = lease_from_auth(auth_clients)

    async def counted(key: str, want: int, rate: float, burst: float) -> Grant:
        calls.append(want)
        return await real(key, want, rate, burst)

    limit = shared(counted)(NO_REFILL, 100)
    assert lease_size(100) == 10
    assert [await limit.take("acme") for _ in range(100)] == [0.0] * 100
    assert calls == [10] * 10
    assert await limit.take("acme") > 0
    assert await limit.take("acme") > 0
    assert len(calls) == 11


async def test_requests_waiting_for_a_lease_do_not_lease_more(auth_clients: Clients) -> None:
    """One lease call per key and process at a time: requests arriving meanwhile wait for its
    batch, so unspent leases stay bounded by one batch per process."""
    calls: list[int] = []
    real = lease_from_auth(auth_clients)

    async def counted(key: str, want: int, rate: float, burst: float) -> Grant:
        calls.append(want)
        return await real(key, want, rate, burst)

    limit = shared(counted)(NO_REFILL, 100)
    assert await admitted(limit, "acme", 10) == 10
    assert calls == [10]


async def test_without_auth_the_limit_counts_in_this_process_and_still_limits() -> None:
    """Availability: auth unreachable makes the limit per replica for a while, never absent,
    and never an error for the request."""
    clients = clients_of(unused_address())
    try:
        limit = shared(lease_from_auth(clients))(NO_REFILL, 5)
        assert await admitted(limit, "acme", 8) == 5
        assert math.isfinite(await limit.take("acme"))
    finally:
        await clients.close()
