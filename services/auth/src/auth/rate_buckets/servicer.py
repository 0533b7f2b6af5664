"""AuthService's TakeRateTokens: the checks on what a caller may ask of a bucket, then the take.

The callers are the gateway's replicas (gateway.shared_ratelimit). The bounds keep a bucket a
bucket whatever is sent: a finite positive rate, a burst of at least one token, a bounded
batch and a bounded key (the table holds one row per key that is not full).
"""

from __future__ import annotations

import math
from typing import Any, Final

import grpc

from auth.rate_buckets.store import RateBuckets
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument

Context = grpc.aio.ServicerContext[Any, Any]
MAX_KEY_CHARS: Final = 200
MAX_WANT: Final = 100_000
MAX_BURST: Final = 1e12


def _check(request: auth_pb2.TakeRateTokensRequest) -> None:
    if not 0 < len(request.key) <= MAX_KEY_CHARS:
        raise InvalidArgument(f"must be 1 to {MAX_KEY_CHARS} characters", field="key")
    if not 1 <= request.want <= MAX_WANT:
        raise InvalidArgument(f"must be from 1 to {MAX_WANT}", field="want")
    if not (math.isfinite(request.rate) and request.rate > 0):
        raise InvalidArgument("must be a number of tokens a second above 0", field="rate")
    if not (math.isfinite(request.burst) and 1 <= request.burst <= MAX_BURST):
        raise InvalidArgument(f"must be a number from 1 to {MAX_BURST:g}", field="burst")


class RateBucketMethods:
    """The rate limit RPC of AuthService; ``rate_buckets`` is set by the servicer's
    constructor."""

    rate_buckets: RateBuckets

    async def TakeRateTokens(
        self, request: auth_pb2.TakeRateTokensRequest, context: Context
    ) -> auth_pb2.TakeRateTokensResponse:
        _check(request)
        taken = await self.rate_buckets.take(request.key, request.want, request.rate, request.burst)
        return auth_pb2.TakeRateTokensResponse(
            granted=taken.granted, retry_after_seconds=taken.retry_after
        )
