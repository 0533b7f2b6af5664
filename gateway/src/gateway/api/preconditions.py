"""Optimistic concurrency over HTTP: the directory's versions as ETags, If-Match as its
``expected_version`` (RFC 9110 §8.8.3, §13.1.1).

A resource's ETag is its version as a strong entity tag, ``"7"``. If-Match uses the strong
comparison: a weak tag (``W/"7"``) never matches, ``*`` matches any current representation, and
a list matches when one of its tags does. A precondition that does not hold is 412 Precondition
Failed, whether it fails here or in the directory's own version check (which also catches a
change made between our read and our write).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from aiohttp import web

from gateway.errors import VERSION_MISMATCH
from meshkit.errors import FailedPrecondition, from_rpc_error

T = TypeVar("T")
R = TypeVar("R")
# A write that lost a race with another writer, without an If-Match from the client, is
# re-read and retried this many times in all before it reports 412.
WRITE_ATTEMPTS = 3


def etag(version: int) -> str:
    """The strong entity tag of a resource at ``version``."""
    return f'"{version}"'


def mismatch(current: int | None) -> FailedPrecondition:
    """412: the If-Match header does not match the current version (when known)."""
    where = f" {etag(current)}" if current is not None else ""
    return FailedPrecondition(
        f"If-Match does not match the current ETag{where}", reason=VERSION_MISMATCH
    )


@dataclass(frozen=True)
class IfMatch:
    """A parsed If-Match header: ``any`` for ``*``, else the versions its strong tags name."""

    any: bool
    versions: frozenset[int]

    def check(self, current: int) -> None:
        """412 unless the resource at version ``current`` satisfies the header."""
        if not (self.any or current in self.versions):
            raise mismatch(current)

    def single(self) -> int | None:
        """The directory's expected_version when the header alone decides it: 0 for ``*``,
        the version of a one-tag header; None when the current version must be read."""
        if self.any:
            return 0
        if len(self.versions) == 1:
            return next(iter(self.versions))
        return None


def parse_if_match(request: web.Request) -> IfMatch | None:
    """The If-Match header of ``request``, or None when it has none. Tags that are weak or not
    ours name no version, so a header made only of them matches nothing."""
    headers = request.headers.getall("If-Match", [])
    raw = ",".join(headers).strip()
    if not headers:
        return None
    if raw == "*":
        return IfMatch(True, frozenset())
    versions = set()
    for part in raw.split(","):
        tag = part.strip()
        if len(tag) >= 3 and tag[0] == '"' and tag[-1] == '"':
            number = tag[1:-1]
            if number.isascii() and number.isdigit() and len(number) < 19:
                versions.add(int(number))
    return IfMatch(False, frozenset(versions))


async def expected_version(request: web.Request, current: Callable[[], Awaitable[int]]) -> int:
    """The expected_version of a write that does not read the resource itself (a delete, a
    member change): 0 without If-Match; ``current()`` is awaited only for a multi-tag header."""
    precondition = parse_if_match(request)
    if precondition is None:
        return 0
    version = precondition.single()
    if version is not None:
        if not precondition.any and version == 0:
            raise mismatch(None)  # versions start at 1; 0 would mean "no precondition"
        return version
    now = await current()
    precondition.check(now)
    return now


def is_version_mismatch(error: grpc.aio.AioRpcError) -> bool:
    return (
        error.code() is grpc.StatusCode.FAILED_PRECONDITION
        and from_rpc_error(error).reason == VERSION_MISMATCH
    )


async def read_modify_write(
    request: web.Request,
    read: Callable[[], Awaitable[T]],
    write: Callable[[T], Awaitable[R]],
    version: Callable[[T], int],
) -> R:
    """Reads the resource, checks If-Match against it, and writes at the version read (so a
    concurrent change is never overwritten). Without If-Match a lost race is retried on a fresh
    read; with it, the client's precondition no longer holds: 412."""
    precondition = parse_if_match(request)
    attempt = 1
    while True:
        current = await read()
        if precondition is not None:
            precondition.check(version(current))
        try:
            return await write(current)
        except grpc.aio.AioRpcError as error:
            retry = precondition is None or precondition.any
            if not (retry and is_version_mismatch(error)) or attempt >= WRITE_ATTEMPTS:
                raise
        attempt += 1
