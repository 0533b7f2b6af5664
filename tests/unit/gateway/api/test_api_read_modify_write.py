"""Read-modify-write under optimistic concurrency: a lost race without If-Match is retried on
a fresh read; with If-Match it is the client's 412 (RFC 9110 §13.1.1: no lost update)."""

from __future__ import annotations

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from gateway.api.preconditions import WRITE_ATTEMPTS, read_modify_write
from meshkit.errors import FailedPrecondition, InvalidArgument, ServiceError, to_status


def _rpc_error(error: ServiceError) -> grpc.aio.AioRpcError:
    """The AioRpcError a meshkit server sends for ``error`` (rich status in the trailers)."""
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", to_status(error).SerializeToString()))
    return grpc.aio.AioRpcError(error.code, grpc.aio.Metadata(), trailers, error.message)


MISMATCH = FailedPrecondition("changed", reason="version_mismatch")


class Store:
    """A resource whose writes lose ``races`` times, then succeed."""

    def __init__(self, races: int) -> None:
        self.version = 1
        self.races = races
        self.reads = 0
        self.writes: list[int] = []

    async def read(self) -> int:
        self.reads += 1
        return self.version

    async def write(self, read_version: int) -> str:
        self.writes.append(read_version)
        if self.races:
            self.races -= 1
            self.version += 1  # another writer got there first
            raise _rpc_error(MISMATCH)
        return f"written at {read_version}"


def _request(if_match: str | None = None) -> web.Request:
    headers = CIMultiDict({"If-Match": if_match} if if_match else {})
    return make_mocked_request("PATCH", "/", headers=headers)


async def test_a_lost_race_without_if_match_is_retried_on_a_fresh_read() -> None:
    store = Store(races=1)
    result = await read_modify_write(_request(), store.read, store.write, lambda v: v)
    assert result == "written at 2"
    assert store.writes == [1, 2]


async def test_retries_are_bounded() -> None:
    store = Store(races=WRITE_ATTEMPTS)
    with pytest.raises(grpc.aio.AioRpcError):
        await read_modify_write(_request(), store.read, store.write, lambda v: v)
    assert len(store.writes) == WRITE_ATTEMPTS


async def test_a_lost_race_with_if_match_is_the_clients_412() -> None:
    """The client's precondition named the version it read; it no longer holds."""
    store = Store(races=1)
    with pytest.raises(grpc.aio.AioRpcError) as lost:
        await read_modify_write(_request('"1"'), store.read, store.write, lambda v: v)
    assert lost.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert store.writes == [1]


async def test_a_stale_if_match_is_refused_before_any_write() -> None:
    store = Store(races=0)
    with pytest.raises(FailedPrecondition):
        await read_modify_write(_request('"7"'), store.read, store.write, lambda v: v)
    assert store.writes == []


async def test_other_failures_are_not_retried() -> None:
    async def refuse(version: int) -> str:
        raise _rpc_error(InvalidArgument("bad", field="x"))

    store = Store(races=0)
    with pytest.raises(grpc.aio.AioRpcError):
        await read_modify_write(_request(), store.read, refuse, lambda v: v)
    assert store.reads == 1
