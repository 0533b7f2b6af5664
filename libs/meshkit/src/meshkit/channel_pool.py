"""Several connections to one peer, each call sent on the next, so that calls reach every one
of the peer's workers evenly.

A peer that runs several workers (meshkit.supervisor) shares one port between them with
SO_REUSEPORT, and the kernel hands each *connection* to one worker (a hash of its addresses and
ports). gRPC sends every call of a channel over one long-lived HTTP/2 connection, so one channel
would give one worker all of a client's calls. The pool therefore opens as many connections as
the peer has workers (MAX_CONNECTIONS at most), learns which worker each reached from its health
check's answer (meshkit.server names the worker in it), and sends each call on the next
connection of a rotation that visits every worker equally often, whatever number of connections
each one happens to hold. Which worker a new connection reaches is the kernel's choice: when one
has none, the pool replaces a connection of a worker that has two, until every worker has one,
backing off while the missing worker does not listen yet (it may be starting). So one client's
calls are split evenly over the peer's workers by construction, not by the luck of the hash.

Connections still end every few minutes (the servers' max_connection_age, so that DNS is
resolved again): a connection that comes back is checked again. When the pool's connections
reach workers of several replicas (a ``dns:///`` address over a headless Service, where every
channel balances over the replicas itself), the rotation is plain round robin over the
connections and each replica's workers share those the kernel gives them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from meshkit.workers import METADATA_KEY, WorkerIdentity

logger = logging.getLogger(__name__)

MAX_CONNECTIONS: Final = 8
"""Connections per peer at most: a peer with more workers gets this many distinct ones from each
client process, and the kernel's hash spreads the client processes' connections over the rest."""
_PROBE_SECONDS: Final = 2.0
_PROBE_ATTEMPTS: Final = 5
_REPLACE_FIRST_SECONDS: Final = 0.05
_REPLACE_MAX_SECONDS: Final = 2.0
_CLOSE_GRACE_SECONDS: Final = 30.0
"""A replaced connection's calls in flight get this long to finish (a stream is cut after it,
as the server's max_connection_age_grace would cut it)."""


@dataclass(frozen=True)
class Rotation:
    """Where calls go, from what is known of each connection's worker (None: not yet known)."""

    order: tuple[int, ...]
    """Connection numbers in call order: every worker appears equally often."""
    workers: int
    """The peer's workers; 0 while unknown, or when the connections reach several replicas."""
    reached: int
    """How many of them hold a connection."""
    wanted: int
    """How many of them should: all of them, up to the pool's limit."""
    connections: int
    """How many connections the pool should have."""
    replace: int | None
    """A connection to replace by a new one, hoping it reaches a worker that has none."""
    group: str = ""
    """The one replica (meshkit.workers.WorkerIdentity.group) the connections reach, if one."""

    @property
    def complete(self) -> bool:
        return self.workers > 0 and self.reached >= self.wanted


def plan(identities: Sequence[WorkerIdentity | None], limit: int = MAX_CONNECTIONS) -> Rotation:
    """The rotation over connections whose workers are ``identities``. A connection of unknown
    worker is a turn of its own; a worker holding several connections takes them in turn, so it
    gets one call per round like every other worker."""
    known = {number: found for number, found in enumerate(identities) if found is not None}
    if len({found.group for found in known.values()}) != 1:
        everything = tuple(range(len(identities)))
        return Rotation(everything, 0, 0, 0, len(identities), None)
    workers = max(found.count for found in known.values())
    by_worker: dict[int, list[int]] = {}
    for number, found in sorted(known.items()):
        by_worker.setdefault(found.index, []).append(number)
    unknown = [[number] for number in range(len(identities)) if number not in known]
    turns = [by_worker[index] for index in sorted(by_worker)] + unknown
    rounds = max(len(turn) for turn in turns)
    order = tuple(turn[round_ % len(turn)] for round_ in range(rounds) for turn in turns)
    wanted = min(workers, limit)
    replace = None
    crowded = max(by_worker.values(), key=len)
    if len(by_worker) < wanted and not unknown and len(identities) >= wanted and len(crowded) > 1:
        replace = crowded[-1]
    group = next(iter(known.values())).group
    connections = max(len(identities), wanted)
    return Rotation(order, workers, len(by_worker), wanted, connections, replace, group)


async def probe_worker(
    channel: grpc.aio.Channel, service: str = "", deadline: float = _PROBE_SECONDS
) -> tuple[bool, WorkerIdentity | None] | None:
    """(whether ``service`` is SERVING, the worker that answered) from one health check on
    ``channel``; None when the check failed. The worker is None for a server that does not name
    it."""
    stub: Any = health_pb2_grpc.HealthStub(channel)  # typed as sync; on an aio channel it is async
    try:
        call = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=deadline)
        metadata = await call.initial_metadata()
        response = await call
    except grpc.aio.AioRpcError:
        return None
    value = metadata.get(METADATA_KEY) if metadata is not None else None
    identity = WorkerIdentity.parse(value) if isinstance(value, str) else None
    return response.status == health_pb2.HealthCheckResponse.SERVING, identity


async def probe_new_connection(
    address: str, service: str = "", deadline: float = _PROBE_SECONDS
) -> tuple[bool, WorkerIdentity | None] | None:
    """probe_worker() over a connection of its own, opened and closed for it: which worker a
    new connection reaches now (a launcher waits until it has heard from every one)."""
    channel = grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        return await probe_worker(channel, service, deadline)
    finally:
        await channel.close()


class _Connection:
    """One channel of the pool (one connection, thanks to its local subchannel pool), the
    worker it reached, and the multicallables made on it."""

    __slots__ = ("callables", "channel", "identity", "retired", "watcher")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.retired = False
        self.identity: WorkerIdentity | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.callables: dict[object, Any] = {}


class _Spread:
    """One method of the peer: each call goes out on the pool's next connection, on the
    multicallable of ``KIND`` made for that connection's channel the first time."""

    KIND = ""
    __slots__ = ("_method", "_pool")

    def __init__(
        self, pool: ChannelPool, method: str, serializer: Any, deserializer: Any,
        registered: bool | None,
    ) -> None:  # fmt: skip
        self._pool = pool
        self._method = (method, serializer, deserializer, registered)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        connection = self._pool._next()
        method = connection.callables.get(self)
        if method is None:
            name, serializer, deserializer, registered = self._method
            method = connection.callables[self] = getattr(connection.channel, self.KIND)(
                name, serializer, deserializer, _registered_method=registered
            )
        return method(*args, **kwargs)


class _UnaryUnary(_Spread, grpc.aio.UnaryUnaryMultiCallable[Any, Any]):
    KIND = "unary_unary"


class _UnaryStream(_Spread, grpc.aio.UnaryStreamMultiCallable[Any, Any]):
    KIND = "unary_stream"


class _StreamUnary(_Spread, grpc.aio.StreamUnaryMultiCallable[Any, Any]):
    KIND = "stream_unary"


class _StreamStream(_Spread, grpc.aio.StreamStreamMultiCallable[Any, Any]):
    KIND = "stream_stream"


class ChannelPool(grpc.aio.Channel):
    """A grpc.aio.Channel to ``target`` made of channels from ``open_channel`` (see the module
    docstring). The connections are watched from the first call, not from construction: a
    service makes its pools at start-up, often before its peers listen, and a connection tried
    then would sit in reconnect back-off (failing calls at once) when the first call comes."""

    def __init__(
        self,
        target: str,
        open_channel: Callable[[], grpc.aio.Channel],
        *,
        limit: int = MAX_CONNECTIONS,
    ) -> None:
        self.target = target
        self._open = open_channel
        self._limit = limit
        self._connections = [_Connection(open_channel())]
        self._order = list(self._connections)
        self._turn = 0
        self._watching = False
        self._closed = False
        self._replacing: asyncio.Task[None] | None = None
        self._replace_delay = _REPLACE_FIRST_SECONDS
        self._complete: bool | None = None
        self._group = ""
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def workers_reached(self) -> frozenset[WorkerIdentity]:
        """The workers the pool's connections reach now, as far as it knows."""
        return frozenset(c.identity for c in self._connections if c.identity is not None)

    # -- calls -----------------------------------------------------------------------------

    def _next(self) -> _Connection:
        if not self._watching:
            self._watch_all()
        order = self._order
        self._turn += 1
        return order[self._turn % len(order)]

    def unary_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return _UnaryUnary(
            self, method, request_serializer, response_deserializer, _registered_method
        )

    def unary_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return _UnaryStream(
            self, method, request_serializer, response_deserializer, _registered_method
        )

    def stream_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return _StreamUnary(
            self, method, request_serializer, response_deserializer, _registered_method
        )

    def stream_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return _StreamStream(
            self, method, request_serializer, response_deserializer, _registered_method
        )

    # -- the state of the whole pool -------------------------------------------------------

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """The best state of any connection: READY when one is."""
        states = {c.channel.get_state(try_to_connect) for c in self._connections}
        for state in (
            grpc.ChannelConnectivity.READY,
            grpc.ChannelConnectivity.CONNECTING,
            grpc.ChannelConnectivity.IDLE,
            grpc.ChannelConnectivity.TRANSIENT_FAILURE,
        ):
            if state in states:
                return state
        return grpc.ChannelConnectivity.SHUTDOWN

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        while self.get_state() == last_observed_state:
            waits = [
                asyncio.ensure_future(c.channel.wait_for_state_change(c.channel.get_state()))
                for c in self._connections
            ]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    async def channel_ready(self) -> None:
        while (state := self.get_state(try_to_connect=True)) is not grpc.ChannelConnectivity.READY:
            await self.wait_for_state_change(state)

    async def close(self, grace: float | None = None) -> None:
        """Closes every connection (calls in flight get ``grace`` seconds), then ends the
        watchers, which a closed channel wakes: grpc may swallow their cancellation while they
        wait for a state change."""
        self._closed = True
        tasks = [c.watcher for c in self._connections if c.watcher is not None]
        if self._replacing is not None:
            tasks.append(self._replacing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(c.channel.close(grace) for c in self._connections), *self._closing)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> ChannelPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- keeping every worker reached ------------------------------------------------------

    def _watch_all(self) -> None:
        self._watching = True
        for connection in self._connections:
            if connection.watcher is None:
                connection.watcher = asyncio.create_task(self._watch(connection))

    def _open_connection(self) -> _Connection:
        connection = _Connection(self._open())
        if self._watching:
            connection.watcher = asyncio.create_task(self._watch(connection))
        return connection

    async def _watch(self, connection: _Connection) -> None:
        """Keeps the connection up and learns which worker it reached, again after every
        reconnection; ends when the connection is retired or the pool closed."""
        channel = connection.channel
        state = channel.get_state(try_to_connect=True)
        while not (self._closed or connection.retired):
            connection.identity = None
            if state is grpc.ChannelConnectivity.READY:
                connection.identity = await self._identify(channel)
            self._replan()
            if state is grpc.ChannelConnectivity.SHUTDOWN:
                return
            await channel.wait_for_state_change(state)
            if self._closed or connection.retired:
                return
            state = channel.get_state(try_to_connect=True)

    @staticmethod
    async def _identify(channel: grpc.aio.Channel) -> WorkerIdentity | None:
        delay = 0.1
        for _ in range(_PROBE_ATTEMPTS):
            probed = await probe_worker(channel)
            if probed is not None:
                return probed[1]
            if channel.get_state() is not grpc.ChannelConnectivity.READY:
                return None
            await asyncio.sleep(delay)
            delay *= 2
        return None

    def _replan(self) -> None:
        if self._closed:
            return
        rotation = plan([c.identity for c in self._connections], self._limit)
        if rotation.connections > len(self._connections):
            while len(self._connections) < rotation.connections:
                self._connections.append(self._open_connection())
            rotation = plan([c.identity for c in self._connections], self._limit)
        self._order = [self._connections[number] for number in rotation.order]
        if rotation.replace is not None and self._replacing is None:
            self._replacing = asyncio.create_task(self._replace_one())
        self._report(rotation)

    async def _replace_one(self) -> None:
        """After a pause that doubles while no new connection reaches the missing worker,
        replaces one connection of a worker that holds two (if that is still so)."""
        try:
            await asyncio.sleep(self._replace_delay)
            self._replace_delay = min(self._replace_delay * 2, _REPLACE_MAX_SECONDS)
            rotation = plan([c.identity for c in self._connections], self._limit)
            if rotation.replace is None:
                return
            old = self._connections[rotation.replace]
            self._connections[rotation.replace] = self._open_connection()
            old.retired = True
            if old.watcher is not None:
                old.watcher.cancel()
            closing = asyncio.create_task(old.channel.close(_CLOSE_GRACE_SECONDS))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        finally:
            self._replacing = None
        self._replan()

    def _report(self, rotation: Rotation) -> None:
        """One log line when every worker is reached, and one when a connection is replaced to
        reach them again; nothing for a peer that runs one worker."""
        if rotation.group and rotation.group != self._group:
            self._group = rotation.group  # the peer restarted: report on its new workers
            self._complete = None
        if rotation.workers <= 1:
            return
        if rotation.complete and self._complete is not True:
            self._complete = True
            self._replace_delay = _REPLACE_FIRST_SECONDS
            logger.info(
                "calls to %s reach all %d of its workers (%d connections)",
                self.target,
                rotation.workers,
                len(self._connections),
                extra={"peer": self.target, "peer_workers": rotation.workers, "reached": True},
            )
        elif rotation.replace is not None and self._complete is not False:
            # At start-up the first connections often reach the same worker: not news.
            level = logging.INFO if self._complete else logging.DEBUG
            self._complete = False
            logger.log(
                level,
                "calls to %s reach %d of its %d workers: reconnecting to reach the others",
                self.target,
                rotation.reached,
                rotation.workers,
                extra={"peer": self.target, "peer_workers": rotation.workers, "reached": False},
            )
