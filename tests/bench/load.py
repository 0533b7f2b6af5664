"""A closed-loop load generator in its own process.

N workers each send a request, wait for its answer and send the next, for a warm-up and then a
fixed measured window. Only answers that arrive inside the window count: requests per second is
completions in the window divided by its length, and latencies are those completions' own. The
generator runs in a separate process (multiprocessing, spawn) so it never shares an event loop,
a GIL or a gRPC completion queue with the server it measures; on a small machine it still shares
the cores, which is why every row records each side's CPU.

Targets are small picklable descriptions opened inside the child: ``GrpcUnary`` today, an HTTP
request for the gateway rows later, each implementing ``Target``.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Protocol

import grpc


class Session(Protocol):
    async def call(self, worker: int) -> str | None:
        """Sends one request for ``worker``; None on success, else a short error label."""

    async def close(self) -> None: ...


class Target(Protocol):
    def describe(self) -> str: ...

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        """Connects (one client connection per group of workers) before the clock starts."""


@dataclass(frozen=True)
class GrpcUnary:
    """A unary gRPC method called with fixed, already serialized request bytes: the client
    neither serializes nor parses, so its CPU goes to the transport, not to protobuf."""

    address: str
    # "/package.Service/Method"
    method: str
    request: bytes
    timeout: float = 5.0
    metadata: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return f"gRPC {self.method} on {self.address}"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        session = _GrpcSession(self, workers_per_channel, math.ceil(workers / workers_per_channel))
        await session.connect()
        return session


class _GrpcSession:
    def __init__(self, target: GrpcUnary, workers_per_channel: int, channels: int) -> None:
        self._target = target
        self._per_channel = workers_per_channel
        # A local subchannel pool gives each channel its own connection; by default channels to
        # one address share a single one, which would make "one channel per group" a fiction.
        self._channels = [
            grpc.aio.insecure_channel(
                target.address, options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for _ in range(channels)
        ]
        self._calls: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [
            channel.unary_unary(target.method) for channel in self._channels
        ]

    async def connect(self) -> None:
        for channel in self._channels:
            await asyncio.wait_for(channel.channel_ready(), timeout=10)

    async def call(self, worker: int) -> str | None:
        try:
            await self._calls[worker // self._per_channel](
                self._target.request,
                timeout=self._target.timeout,
                metadata=self._target.metadata or None,
            )
        except grpc.aio.AioRpcError as error:
            return str(error.code().name)
        return None

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


@dataclass(frozen=True)
class LoadSpec:
    target: Target
    concurrency: int
    seconds: float
    warmup: float
    workers_per_channel: int


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    seconds: float
    # Successful completions inside the window; latency figures are theirs.
    requests: int
    errors: int
    error_codes: dict[str, int]
    requests_per_second: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    channels: int


def percentile(sorted_values: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending, non-empty list."""
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def summarise(
    spec: LoadSpec, latencies_ns: list[int], error_codes: dict[str, int], channels: int
) -> LoadResult:
    latencies_ns.sort()

    def ms(value: float) -> float:
        return value / 1e6

    have = bool(latencies_ns)
    return LoadResult(
        concurrency=spec.concurrency,
        seconds=spec.seconds,
        requests=len(latencies_ns),
        errors=sum(error_codes.values()),
        error_codes=dict(sorted(error_codes.items())),
        requests_per_second=len(latencies_ns) / spec.seconds,
        p50_ms=ms(percentile(latencies_ns, 0.50)) if have else None,
        p90_ms=ms(percentile(latencies_ns, 0.90)) if have else None,
        p99_ms=ms(percentile(latencies_ns, 0.99)) if have else None,
        max_ms=ms(latencies_ns[-1]) if have else None,
        mean_ms=ms(sum(latencies_ns) / len(latencies_ns)) if have else None,
        channels=channels,
    )


async def _drive(spec: LoadSpec, conn: Connection) -> LoadResult:
    session = await spec.target.open(spec.concurrency, spec.workers_per_channel)
    latencies: list[int] = []
    error_codes: dict[str, int] = {}
    start = time.perf_counter_ns()
    window_start = start + int(spec.warmup * 1e9)
    window_end = window_start + int(spec.seconds * 1e9)

    async def worker(index: int) -> None:
        while time.perf_counter_ns() < window_end:
            sent = time.perf_counter_ns()
            error = await session.call(index)
            done = time.perf_counter_ns()
            if not window_start <= done <= window_end:
                continue
            if error is None:
                latencies.append(done - sent)
            else:
                error_codes[error] = error_codes.get(error, 0) + 1

    async def announce(at_ns: int, message: str) -> None:
        # The parent samples CPU at these two moments, so its window matches ours.
        await asyncio.sleep(max(at_ns - time.perf_counter_ns(), 0) / 1e9)
        conn.send((message, None))

    try:
        await asyncio.gather(
            announce(window_start, "measuring"),
            announce(window_end, "finished"),
            *(worker(index) for index in range(spec.concurrency)),
        )
    finally:
        await session.close()
    return summarise(
        spec, latencies, error_codes, math.ceil(spec.concurrency / spec.workers_per_channel)
    )


def _child(spec: LoadSpec, conn: Connection) -> None:
    try:
        conn.send(("result", asyncio.run(_drive(spec, conn))))
    except BaseException as error:  # reported to the parent, which decides what fails
        conn.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


class LoadError(RuntimeError):
    """The load generator could not produce a result."""


class Probe(Protocol):
    """Told when the measured window opens and closes (to sample CPU at those moments)."""

    async def window_opened(self, client_pid: int) -> None: ...

    async def window_closed(self) -> None: ...


async def run_load(spec: LoadSpec, probe: Probe) -> LoadResult:
    """Runs ``spec`` in a fresh process and returns its figures."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(spec, sender), name="bench-load", daemon=True)
    process.start()
    # Only the child may hold the sending end, so its exit shows here as EOF.
    sender.close()
    deadline = time.monotonic() + spec.warmup + spec.seconds + 60
    answered = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                kind, payload = await asyncio.wait_for(
                    asyncio.to_thread(receiver.recv), timeout=max(remaining, 0.1)
                )
            except EOFError:
                await asyncio.to_thread(process.join, 5)
                raise LoadError(
                    f"load generator exited without a result (exit code {process.exitcode})"
                ) from None
            except TimeoutError:
                raise LoadError("load generator did not finish in time") from None
            if kind == "measuring":
                assert process.pid is not None
                await probe.window_opened(process.pid)
            elif kind == "finished":
                await probe.window_closed()
            elif kind == "error":
                raise LoadError(f"load generator failed: {payload}")
            else:
                answered = True
                result: LoadResult = payload
                return result
    finally:
        # After its result the child only has to exit; after a failure it is not waited for.
        if answered:
            await asyncio.to_thread(process.join, 10)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
        receiver.close()
