"""What tracing costs, and where a SCIM create spends its time.

Three meshes share one database, started side by side so that rows can alternate between them
without restarts (an idle mesh costs next to no CPU):

- "off": OTEL_TRACES_EXPORTER=none, what `make run` and the other scenarios use (meshkit then
  samples everything off: trace ids exist, nothing is recorded);
- "on": OTLP export to an in-process receiver that only counts what arrives (so the collector's
  work stays out of the measurement as far as a shared machine allows), sampler
  parentbased_traceidratio at 0.1 (a common production choice) and the SDK's batch defaults;
- "full": every span sampled and kept with its timings, for the slowest hop of a SCIM create.

SCIM filtered GETs (1k users), then SCIM creates, each run off, on, on, off (drift between rows
cancels out). The overhead is the CPU per request the mesh and PostgreSQL add with tracing on
(CPU summed over each side's two rows, over their requests), which other processes on a shared
machine disturb far less than throughput; the note gives the throughput lost too. Target: at
most 10 % added CPU at 10 % sampling.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from idmesh.directory.v1 import directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext, disturbance
from tests.bench.cost import MESH
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.figures import Figure, below
from tests.bench.lines import lines_of
from tests.bench.process_groups import mesh_groups
from tests.bench.report import Row
from tests.bench.scenarios.scim import concurrency
from tests.bench.scim_requests import ScimHttp, ScimSession, check
from tests.bench.scim_seed import account, seed_users
from tests.bench.settings import trace_samples
from tests.bench.traces import TimedReceiver, Traces, exporting, request_path, single_trace_units
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan

SAMPLER: Final = "parentbased_traceidratio"
RATIO: Final = "0.1"
OVERHEAD_TARGET: Final = 10.0
UNTRACED: Final = "idmesh untraced"
CASES: Final = {"filter": "SCIM filter, traced 10%", "create": "SCIM create, traced 10%"}
USERS: Final = 1_000
# Off, on, on, off: a machine that slowly gets busier or calmer moves both means alike.
ABBA: Final = ("off", "on", "on", "off")


class CountingReceiver(OtlpReceiver):
    """An OTLP endpoint that counts spans and keeps none: a collector's cheapest stand-in."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        self.count += sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )


def _throughput_lost(off: list[Row], on: list[Row]) -> float:
    """Percent of throughput lost with tracing on, from the mean of each side's rows."""
    mean_off = statistics.mean(row.load.requests_per_second for row in off)
    mean_on = statistics.mean(row.load.requests_per_second for row in on)
    return 100.0 * (1.0 - mean_on / mean_off) if mean_off else 0.0


async def run(ctx: BenchContext) -> None:
    level = concurrency()
    async with contextlib.AsyncExitStack() as stack:
        counting = CountingReceiver()
        await counting.start()
        stack.push_async_callback(counting.stop)
        timed = TimedReceiver()
        await timed.start()
        stack.push_async_callback(timed.stop)

        ctx.progress("tracing: starting PostgreSQL and three meshes (off, 10 % sampled, all)")
        database = BenchDatabase()
        stack.push_async_callback(database.stop)
        await database.start()
        ctx.own(database.owned_pids)
        logs = Path(tempfile.mkdtemp(prefix="idmesh-bench-tracing-"))
        stack.callback(shutil.rmtree, logs, True)
        base = mesh_environment("none")
        environments = {
            "off": base,
            "on": {**base, **exporting(counting, SAMPLER, RATIO)},
            "full": {**base, **exporting(timed, "parentbased_always_on", delay_ms=200)},
        }
        meshes: dict[str, Mesh] = {}
        for name, environment in environments.items():
            started = Mesh(database.url, env_overrides=environment, log_dir=logs / name)
            await started.start(timeout=60)
            stack.push_async_callback(started.stop)
            meshes[name] = started

        channel = connect(meshes["off"].address("directory"))
        stack.push_async_callback(channel.close)
        stub: Any = directory_pb2_grpc.DirectoryServiceStub(channel)
        suffix = uuid.uuid4().hex[:6]
        account_id, token = await account(stub, meshes["off"], f"bench-tracing-{suffix}")
        users = await seed_users(database.url, account_id, USERS)
        names = tuple(name for _, name in users)

        def target(mesh: str, kind: str) -> ScimHttp:
            url = f"{meshes[mesh].gateway_url}/scim/v2"
            return ScimHttp(url, token, kind, names, (), ctx.settings.call_timeout)

        for which in meshes:
            await check(target(which, "filter"))

        rows: dict[tuple[str, str], list[Row]] = {}
        exported_before = counting.count
        for kind, order in (("filter", ABBA), ("create", ABBA)):
            for which in order:
                label = f"SCIM {kind} tracing {which}"
                groups = mesh_groups(meshes[which], database)
                row = await ctx.measure(label, target(which, kind), level, groups)
                rows.setdefault((kind, which), []).append(row)
        hop = await _slowest_create_hop(ctx, timed, target("full", "create"))
        # Read after the traced creates: the 10 % mesh's final batch leaves up to 5 s (the
        # SDK's delay) after its last row.
        _figures(ctx, rows, counting.count - exported_before)
        ctx.report.figures.append(hop)


def _figures(ctx: BenchContext, rows: dict[tuple[str, str], list[Row]], exported: int) -> None:
    for kind, name in CASES.items():
        off, on = rows[(kind, "off")], rows[(kind, "on")]
        traced = ctx.add_line(lines_of(name, on, baseline=UNTRACED))
        untraced = ctx.add_line(lines_of(name, off, system=UNTRACED))
        before, after = untraced.cpu_ms.get(MESH), traced.cpu_ms.get(MESH)
        added = 100.0 * (after / before - 1.0) if before and after is not None else None
        ctx.report.figures.append(
            Figure(
                f"{name}: added mesh CPU per request",
                added,
                "%",
                below(OVERHEAD_TARGET, "%"),
                note="; ".join(
                    filter(
                        None,
                        [
                            f"{before or 0:.2f} → {after or 0:.2f} ms/req (OTLP, {SAMPLER} "
                            f"{RATIO}); throughput {-_throughput_lost(off, on):+.1f}%",
                            disturbance(*off, *on),
                        ],
                    )
                ),
                busy=any(row.busy for row in (*off, *on)),
            )
        )
    ctx.report.notes.append(
        f"tracing: the 10%-sampled mesh exported {exported:,} spans over its rows to an OTLP "
        "receiver that counts them"
    )


async def _slowest_create_hop(
    ctx: BenchContext, receiver: TimedReceiver, target: ScimHttp
) -> Figure:
    """BENCH_TRACE_SAMPLES creates one after the other on the fully sampled mesh; the hop with
    the largest median self time."""
    samples = trace_samples()
    ctx.progress(f"tracing: {samples} traced SCIM creates (sampler always_on) for the slowest hop")
    session = ScimSession(target, 1)
    await session.connect()
    # The first request warms the mesh's connections and caches: no part of a typical create.
    await session.call(0)
    since = time.time_ns()
    try:
        failures = [error for _ in range(samples) if (error := await session.call(0))]
    finally:
        await session.close()
    await receiver.settle()
    traces = Traces(receiver.spans, receiver.times)

    def is_create(span: ReceivedSpan) -> bool:
        return bool(span.service == "gateway" and request_path(span).endswith("/Users"))

    hops = traces.report(single_trace_units(traces, is_create, since))
    name = "slowest hop of a SCIM create"
    if hops is None:
        return Figure(name, None, "", note="no create trace arrived")
    figure = hops.figure(name, "creates")
    if failures:
        figure = dataclasses.replace(figure, note=f"{figure.note}; {len(failures)} creates failed")
    return figure
