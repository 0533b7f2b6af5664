"""AuthService.TakeRateTokens (auth.rate_buckets) through real in-process gRPC servers and
PostgreSQL: the one bucket per key behind the gateway's shared rate limits.

Buckets that must not refill during a test refill at 0.001 tokens a second: a whole token would
take over a quarter of an hour, so no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest

from auth.rate_buckets.store import RateBuckets
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.integration.auth.test_auth_api_tokens import rpc_error

pytestmark = pytest.mark.integration

if TYPE_CHECKING:
    Stub = auth_pb2_grpc.AuthServiceAsyncStub

NO_REFILL = 0.001


def fresh_key() -> str:
    return f"test:{uuid.uuid4()}"


async def take(
    stub: Stub, key: str, want: int, rate: float = NO_REFILL, burst: float = 5
) -> auth_pb2.TakeRateTokensResponse:
    return await stub.TakeRateTokens(
        auth_pb2.TakeRateTokensRequest(key=key, want=want, rate=rate, burst=burst)
    )


async def test_a_bucket_grants_its_burst_in_whole_tokens_and_then_says_when_one_is_back(
    auth_stub: Stub,
) -> None:
    """A token bucket: a new key starts full (5); a take gets what is left when that is less
    than asked; an empty bucket grants nothing and names the wait for one token (1/rate at
    most), so a caller knows when to ask again."""
    key = fresh_key()
    assert (await take(auth_stub, key, 3)).granted == 3
    partial = await take(auth_stub, key, 3)
    assert (partial.granted, partial.retry_after_seconds) == (2, 0.0)
    empty = await take(auth_stub, key, 1)
    assert empty.granted == 0
    assert 0 < empty.retry_after_seconds <= 1 / NO_REFILL


async def test_two_replicas_racing_on_one_bucket_are_granted_its_burst_together_never_more(
    auth_stub: Stub, other_replica_stub: Stub
) -> None:
    """The refill and take is one statement under the row's lock: 40 takes of 2 at once,
    half through each replica, share a burst of 25 exactly."""
    key = fresh_key()
    answers = await asyncio.gather(
        *(take(stub, key, 2, burst=25) for stub in (auth_stub, other_replica_stub) * 20)
    )
    assert sum(answer.granted for answer in answers) == 25
    assert all(answer.retry_after_seconds > 0 for answer in answers if not answer.granted)


async def test_an_empty_bucket_grants_again_after_the_wait_it_announced(auth_stub: Stub) -> None:
    """Tokens come back at the rate: waiting the announced retry-after is enough, and asking
    while empty took nothing (a refused caller costs the bucket nothing)."""
    key = fresh_key()
    assert (await take(auth_stub, key, 1, rate=20.0, burst=1)).granted == 1
    refused = await take(auth_stub, key, 1, rate=20.0, burst=1)
    if refused.granted == 0:  # a slow machine may already have refilled it
        assert 0 < refused.retry_after_seconds <= 1 / 20.0
        await asyncio.sleep(refused.retry_after_seconds)
    assert (await take(auth_stub, key, 1, rate=20.0, burst=1)).granted == 1


async def test_buckets_of_different_keys_are_independent(auth_stub: Stub) -> None:
    """One account's empty bucket never takes from another's."""
    spent, untouched = fresh_key(), fresh_key()
    assert (await take(auth_stub, spent, 5)).granted == 5
    assert (await take(auth_stub, spent, 1)).granted == 0
    assert (await take(auth_stub, untouched, 5)).granted == 5


@pytest.mark.parametrize(
    ("field", "request_fields"),
    [
        ("key", {"key": "", "want": 1, "rate": 1.0, "burst": 1.0}),
        ("key", {"key": "k" * 201, "want": 1, "rate": 1.0, "burst": 1.0}),
        ("want", {"want": 0, "rate": 1.0, "burst": 1.0}),
        ("want", {"want": 100_001, "rate": 1.0, "burst": 1.0}),
        ("rate", {"want": 1, "rate": 0.0, "burst": 1.0}),
        ("rate", {"want": 1, "rate": float("nan"), "burst": 1.0}),
        ("rate", {"want": 1, "rate": float("inf"), "burst": 1.0}),
        ("burst", {"want": 1, "rate": 1.0, "burst": 0.5}),
        ("burst", {"want": 1, "rate": 1.0, "burst": float("inf")}),
    ],
)
async def test_a_request_outside_the_bounds_is_invalid_argument_and_takes_nothing(
    auth_stub: Stub, auth_pool: asyncpg.Pool, field: str, request_fields: dict[str, object]
) -> None:
    """Bad input: INVALID_ARGUMENT naming the field, and no row written."""
    key = fresh_key()
    request = auth_pb2.TakeRateTokensRequest(**{"key": key, **request_fields})  # type: ignore[arg-type]
    code, error = await rpc_error(auth_stub.TakeRateTokens(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == field
    assert (
        await auth_pool.fetchval("SELECT count(*) FROM auth.rate_buckets WHERE key = $1", key) == 0
    )


async def test_the_sweep_deletes_refilled_buckets_and_keeps_the_others(
    auth_stub: Stub, auth_pool: asyncpg.Pool
) -> None:
    """A missing row is a full bucket, so a refilled one can go (the table holds only keys
    that are being limited); a bucket still short of tokens stays."""
    refilled, short = fresh_key(), fresh_key()
    assert (await take(auth_stub, refilled, 1, rate=1e6, burst=1)).granted == 1
    assert (await take(auth_stub, short, 1)).granted == 1
    await asyncio.sleep(0.01)  # 10 ms refill 10,000 tokens at a million a second
    assert await RateBuckets(auth_pool).sweep() >= 1
    left = await auth_pool.fetch(
        "SELECT key FROM auth.rate_buckets WHERE key = ANY($1::text[])", [refilled, short]
    )
    assert [row["key"] for row in left] == [short]
