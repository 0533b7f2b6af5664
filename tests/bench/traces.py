"""Which hop of a request costs the most, from the spans the real processes export.

The mesh exports over OTLP to the end-to-end tests' in-process receiver, extended here to keep
each span's start and end (the tests only need names and parents). For every unit of work (one
SCIM create = one trace; one login = the traces of its start and callback requests) each span's
*self time* is its duration minus the time covered by its children: a gRPC client span's self
time is the wire, serialization and queueing around the server span it contains; a server span's
is the handler's own work. Self times are summed per hop within a unit, and the hop with the
largest median over all units is the slowest.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests.bench.figures import Figure
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan

ASYNCPG = "opentelemetry.instrumentation.asyncpg"
AIOHTTP_CLIENT = "opentelemetry.instrumentation.aiohttp_client"
GRPC_CLIENT = "meshkit.client"
GRPC_SERVER = "meshkit.server"
# Where HTTP instrumentations record the path (stable and older semantic conventions).
_PATH_ATTRIBUTES = ("url.path", "http.target", "http.route", "http.url")


class TimedReceiver(OtlpReceiver):
    """The tests' OTLP receiver, also recording each span's start and end (ns since epoch)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, tuple[int, int]] = {}

    def _add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.times[span.span_id.hex()] = (
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                    )
        super()._add(request)

    async def settle(self, quiet_seconds: float = 1.0, within: float = 30.0) -> None:
        """Waits until no span has arrived for ``quiet_seconds``: every batch is exported."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        count = -1
        while loop.time() < deadline:
            now = len(self.times)
            if now == count:
                return
            count = now
            await asyncio.sleep(quiet_seconds)


def exporting(
    receiver: OtlpReceiver, sampler: str, sampler_arg: str = "", delay_ms: int = 5000
) -> dict[str, str]:
    """The variables that make a service export to ``receiver`` with ``sampler``; the batch
    delay is the SDK's default (5 s) unless a caller wants its spans sooner."""
    env = {**receiver.exporter_env(delay_ms), "OTEL_TRACES_SAMPLER": sampler}
    if sampler_arg:
        env["OTEL_TRACES_SAMPLER_ARG"] = sampler_arg
    return env


def request_path(span: ReceivedSpan) -> str:
    for key in _PATH_ATTRIBUTES:
        value = span.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return span.name


def hop(span: ReceivedSpan) -> str:
    """A hop's name, the same for every request of one kind: who calls whom, or who works."""
    if span.scope == ASYNCPG:
        return f"{span.service} → PostgreSQL (queries)"
    method = str(span.attributes.get("rpc.method", ""))
    if span.scope == GRPC_CLIENT:
        peer = str(span.attributes.get("rpc.service", "")).split(".")[1:2] or ["?"]
        return f"{span.service} → {peer[0]} {method} (gRPC client)"
    if span.scope == GRPC_SERVER:
        return f"{span.service} {method} (gRPC server)"
    if span.scope == AIOHTTP_CLIENT:
        return f"{span.service} → IdP HTTP {span.name} (client)"
    if span.kind == "SERVER":
        return f"{span.service} HTTP server"
    return f"{span.service} {span.name}"


def _covered(intervals: list[tuple[int, int]], start: int, end: int) -> int:
    """Nanoseconds of [start, end] covered by the union of ``intervals``."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, reach = 0, start
    for a, b in clipped:
        if b <= reach:
            continue
        total += b - max(a, reach)
        reach = b
    return total


@dataclass(frozen=True)
class HopShare:
    hop: str
    median_ms: float
    share: float


@dataclass(frozen=True)
class HopReport:
    units: int
    # Median end-to-end time of a unit: the sum of its root spans' durations.
    median_total_ms: float
    # Every hop, slowest first.
    hops: tuple[HopShare, ...]

    @property
    def slowest(self) -> HopShare:
        return self.hops[0]

    def figure(self, name: str, noun: str) -> Figure:
        """The summary row: the slowest hop, its median self time and share, the runners-up."""
        top = self.slowest
        return Figure(
            name=name,
            value=top.median_ms,
            unit="ms self",
            text=f"{top.hop}: {top.median_ms:.1f} ms ({100 * top.share:.0f}%)",
            note=f"median over {self.units} {noun}, end to end {self.median_total_ms:.1f} ms; "
            f"next: {self.describe(2, skip=1)}",
        )

    def describe(self, count: int = 3, skip: int = 0) -> str:
        return "; ".join(
            f"{h.hop} {h.median_ms:.1f} ms ({100 * h.share:.0f}%)"
            for h in self.hops[skip : skip + count]
        )


class Traces:
    """Spans grouped by trace, with their timings, for attributing self time."""

    def __init__(self, spans: Sequence[ReceivedSpan], times: dict[str, tuple[int, int]]) -> None:
        self.times = times
        self.by_trace: dict[str, list[ReceivedSpan]] = defaultdict(list)
        for span in spans:
            if span.span_id in times:
                self.by_trace[span.trace_id].append(span)

    def roots(self, since_ns: int = 0) -> list[ReceivedSpan]:
        """Each trace's root span (no parent within the trace) that started at ``since_ns`` or
        later, oldest first."""
        found = []
        for spans in self.by_trace.values():
            ids = {s.span_id for s in spans}
            found += [
                s
                for s in spans
                if s.parent_span_id not in ids and self.times[s.span_id][0] >= since_ns
            ]
        return sorted(found, key=lambda s: self.times[s.span_id][0])

    def self_times(self, trace_id: str) -> tuple[dict[str, int], int]:
        """Self nanoseconds per hop in one trace, and the trace's root duration."""
        spans = self.by_trace.get(trace_id, [])
        children: dict[str, list[tuple[int, int]]] = defaultdict(list)
        ids = {s.span_id for s in spans}
        for span in spans:
            children[span.parent_span_id].append(self.times[span.span_id])
        per_hop: dict[str, int] = defaultdict(int)
        total = 0
        for span in spans:
            start, end = self.times[span.span_id]
            per_hop[hop(span)] += max(end - start - _covered(children[span.span_id], start, end), 0)
            if span.parent_span_id not in ids:
                total += end - start
        return dict(per_hop), total

    def report(self, units: Sequence[Sequence[str]]) -> HopReport | None:
        """Median self time per hop over ``units`` (each a list of trace ids); None without
        any complete unit."""
        per_unit: list[tuple[dict[str, int], int]] = []
        for trace_ids in units:
            merged: dict[str, int] = defaultdict(int)
            total = 0
            for trace_id in trace_ids:
                hops, duration = self.self_times(trace_id)
                for name, ns in hops.items():
                    merged[name] += ns
                total += duration
            if total:
                per_unit.append((merged, total))
        if not per_unit:
            return None
        names = {name for hops, _ in per_unit for name in hops}
        median_total = statistics.median(total for _, total in per_unit)
        shares = [
            HopShare(
                hop=name,
                median_ms=statistics.median(hops.get(name, 0) for hops, _ in per_unit) / 1e6,
                share=statistics.median(hops.get(name, 0) / total for hops, total in per_unit),
            )
            for name in names
        ]
        shares.sort(key=lambda h: h.median_ms, reverse=True)
        return HopReport(len(per_unit), median_total / 1e6, tuple(shares))


def single_trace_units(
    traces: Traces, keep: Callable[[ReceivedSpan], bool], since_ns: int = 0
) -> list[list[str]]:
    """One unit per trace whose root ``keep`` accepts."""
    return [[root.trace_id] for root in traces.roots(since_ns) if keep(root)]


def login_units(
    traces: Traces,
    is_start: Callable[[ReceivedSpan], bool],
    is_end: Callable[[ReceivedSpan], bool],
    since_ns: int = 0,
) -> list[list[str]]:
    """Logins run one after the other: each end (callback, ACS) trace with the start trace
    before it; other roots (background work) are no part of a login."""
    units: list[list[str]] = []
    pending: str | None = None
    for root in traces.roots(since_ns):
        if is_start(root):
            pending = root.trace_id
        elif is_end(root) and pending is not None:
            units.append([pending, root.trace_id])
            pending = None
    return units
