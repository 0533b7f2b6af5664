"""Read-modify-write retries of a PATCH that carried no If-Match.

A PATCH without If-Match (how Entra and Okta send every one) asked for no precondition, so a
version conflict with a concurrent write is ours to resolve: read again, apply again, write
again. RFC 9110 §15.5.13 reserves 412 for a condition the request carried, so when the conflicts
do not stop the answer is 503 with Retry-After (the gateway adds it), never 412. With If-Match,
the first conflict is the client's 412.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Final

from meshkit.errors import FailedPrecondition, Unavailable
from scim.errors import VERSION_MISMATCH

# Eight writers of one resource at once settle within a few rounds; twenty leaves a wide margin
# and still ends in well under a second.
ATTEMPTS_WITHOUT_IF_MATCH: Final = 20
_BASE_DELAY: Final = 0.002
_MAX_DELAY: Final = 0.05


def attempts(has_if_match: bool) -> Iterator[int]:
    """The attempt numbers of one PATCH: one with If-Match, several without."""
    return iter(range(1 if has_if_match else ATTEMPTS_WITHOUT_IF_MATCH))


async def after_conflict(error: FailedPrecondition, attempt: int, has_if_match: bool) -> None:
    """Returns (after a jittered pause) when the write may be tried again; raises otherwise:
    the error itself when it is no version conflict or the client set If-Match (412), and
    Unavailable when the conflicts outlast the attempts."""
    if error.reason != VERSION_MISMATCH or has_if_match:
        raise error
    if attempt + 1 >= ATTEMPTS_WITHOUT_IF_MATCH:
        raise Unavailable(
            "the resource is being changed by other requests at the same time; retry",
            reason="contention",
        ) from None
    # Full jitter (exponential backoff): writers that collided do not collide again in step.
    await asyncio.sleep(random.uniform(0, min(_MAX_DELAY, _BASE_DELAY * 2**attempt)))  # noqa: S311
