"""SCIM through the whole mesh (gateway → auth → scim → directory → PostgreSQL) beside the
reference implementation, scim2-server 0.8.3 (docs/scim-clients.md §8), measured in the same
run with the same requests, one after the other, at BENCH_SCIM_CONCURRENCY (16 by default):

- "SCIM create": ``POST /Users``, an Entra-shaped user with a fresh userName per request;
- "SCIM filter eq, 1k" and "…, 100k": ``GET /Users?filter=userName eq "…"`` (Entra's and
  Okta's matching request) on an account of 1,000 and of 100,000 users, the names cycling
  through all of them;
- "SCIM PATCH user": ``PATCH /Users/{id}`` replacing ``title`` (a real write), each worker on
  its own user;
- "SCIM group +1 of 10k": ``PATCH /Groups/{id}`` adding one member to a group of 10,000, a
  user who is not yet a member each time; one request at a time, as an IdP sends a group's
  changes (concurrent writes to one group would only queue on it), over three times the usual
  window, since scim2-server takes about a second each.

The figure that matters is CPU per request: the mesh's (its four processes and PostgreSQL)
against scim2-server's one process, which keeps everything in memory. Targets: create, both
filtered reads and PATCH each at most 1.25× scim2-server's CPU per request; filter latency at
100k within 1.5× of 1k (p50).

idmesh's accounts are filled in SQL (tests/bench/scim_seed.py), the reference's in its own
process before it listens (tests/bench/scim2_server_seeded.py), the two at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from idmesh.directory.v1 import directory_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext, disturbance
from tests.bench.cost import MESH, REFERENCE
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.figures import Figure, Target, below
from tests.bench.memory import python_process
from tests.bench.peak import PeakRss
from tests.bench.process_groups import mesh_groups, single
from tests.bench.reference_scim import NAME as REFERENCE_NAME
from tests.bench.reference_scim import TOKEN as REFERENCE_TOKEN
from tests.bench.reference_scim import Scim2Server, Tenant
from tests.bench.report import Row
from tests.bench.scim2_server_seeded import group_id as reference_group
from tests.bench.scim_requests import ScimHttp, check
from tests.bench.scim_seed import account, seed_group, seed_users
from tests.bench.summary import SCIM_LOAD
from tests.conformance.tools import ensure_tools

SMALL: Final = 1_000
LARGE: Final = 100_000
GROUP_MEMBERS: Final = 10_000
# Users added to the group, one per request: more than a row's warm-up and window can use.
GROUP_ADDITIONS: Final = 5_000
# The group row's window, in BENCH_SECONDS, and its requests' deadline: scim2-server spends
# about a second of CPU on each, more on a busy machine.
GROUP_WINDOW: Final = 3.0
GROUP_TIMEOUT: Final = 30.0
CPU_RATIO_TARGET: Final = 1.25
SCALE_TARGET: Final = 1.5
CREATE: Final = "SCIM create"
FILTER_1K: Final = "SCIM filter eq, 1k"
FILTER_100K: Final = "SCIM filter eq, 100k"
PATCH: Final = "SCIM PATCH user"
GROUP_ADD: Final = "SCIM group +1 of 10k"
# The cases whose CPU per request has a target against the reference's.
TARGETED: Final = (CREATE, FILTER_1K, FILTER_100K, PATCH)


def concurrency() -> int:
    """BENCH_SCIM_CONCURRENCY: the concurrency of every SCIM row (tracing's too)."""
    raw = os.environ.get("BENCH_SCIM_CONCURRENCY", "").strip() or "16"
    return max(int(raw), 1)


@dataclass(frozen=True)
class Case:
    name: str
    reference: ScimHttp
    idmesh: ScimHttp
    # None: BENCH_SCIM_CONCURRENCY.
    concurrency: int | None = None
    # Times BENCH_SECONDS.
    window: float = 1.0


async def run(ctx: BenchContext) -> None:
    settings = ctx.settings
    level = concurrency()
    timeout = settings.call_timeout
    async with contextlib.AsyncExitStack() as stack:
        ctx.progress("SCIM: preparing the conformance tools' virtualenv (scim2-server)")
        tools = await asyncio.to_thread(ensure_tools)
        small_tenant = Tenant("small", SMALL, "small.reference.bench.example")
        large_tenant = Tenant("large", LARGE, "large.reference.bench.example", GROUP_MEMBERS)
        reference = Scim2Server(tools, [small_tenant, large_tenant])
        stack.push_async_callback(reference.stop)
        # It fills its 101,000 users while PostgreSQL, the mesh and the SQL seeding start.
        await reference.start()

        ctx.progress("SCIM: starting PostgreSQL and applying migrations")
        database = BenchDatabase()
        stack.push_async_callback(database.stop)
        await database.start()
        ctx.own(database.owned_pids)
        log_dir = Path(tempfile.mkdtemp(prefix="idmesh-bench-scim-"))
        if settings.tracing:
            for service in SERVICES:
                (log_dir / f"{service}.log").symlink_to("/dev/null")
        stack.callback(shutil.rmtree, log_dir, True)
        mesh = Mesh(database.url, env_overrides=mesh_environment(settings.exporter),
                    log_dir=log_dir)  # fmt: skip
        ctx.progress("SCIM: starting the mesh")
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)

        channel = connect(mesh.address("directory"))
        stack.push_async_callback(channel.close)
        stub: Any = directory_pb2_grpc.DirectoryServiceStub(channel)
        suffix = uuid.uuid4().hex[:6]
        writes_id, writes_token = await account(stub, mesh, f"bench-writes-{suffix}")
        small_id, small_token = await account(stub, mesh, f"bench-1k-{suffix}")
        large_id, large_token = await account(stub, mesh, f"bench-100k-{suffix}")
        ctx.progress(
            f"SCIM: seeding {SMALL:,} + {LARGE:,} (a group of {GROUP_MEMBERS:,}) + {SMALL:,} "
            "users in SQL; scim2-server fills the same in memory"
        )
        small = await seed_users(database.url, small_id, SMALL)
        large = await seed_users(database.url, large_id, LARGE)
        writable = await seed_users(database.url, writes_id, SMALL)
        group_id = await seed_group(
            database.url, large_id, [user_id for user_id, _ in large[:GROUP_MEMBERS]]
        )
        await reference.ready()
        ctx.progress("SCIM: both sides seeded")

        gateway = f"{mesh.gateway_url}/scim/v2"
        joining = range(GROUP_MEMBERS, GROUP_MEMBERS + GROUP_ADDITIONS)

        def deadline(kind: str) -> float:
            return max(timeout, GROUP_TIMEOUT) if kind == "group-add" else timeout

        def ours(token: str, kind: str, users: list[tuple[str, str]], group: str = "") -> ScimHttp:
            ids = tuple(user[0] for user in users)
            names = tuple(user[1] for user in users)
            return ScimHttp(gateway, token, kind, names, ids, deadline(kind), group)

        def theirs(tenant: Tenant, kind: str, indices: range, group: str = "") -> ScimHttp:
            users = [tenant.user(i) for i in indices]
            ids = tuple(user[0] for user in users)
            names = tuple(user[1] for user in users)
            base = reference.base_url(tenant)
            return ScimHttp(base, REFERENCE_TOKEN, kind, names, ids, deadline(kind), group)

        cases = [
            Case(CREATE, theirs(small_tenant, "create", range(0)),
                 ours(writes_token, "create", [])),
            Case(FILTER_1K, theirs(small_tenant, "filter", range(SMALL)),
                 ours(small_token, "filter", small)),
            Case(FILTER_100K, theirs(large_tenant, "filter", range(LARGE)),
                 ours(large_token, "filter", large)),
            Case(PATCH, theirs(small_tenant, "patch", range(SMALL)),
                 ours(writes_token, "patch", writable)),
            Case(GROUP_ADD,
                 theirs(large_tenant, "group-add", joining, reference_group(large_tenant.name)),
                 ours(large_token, "group-add", large[joining.start:joining.stop], group_id),
                 concurrency=1, window=GROUP_WINDOW),
        ]  # fmt: skip
        for case in cases:
            await check(case.reference)
            await check(case.idmesh)

        groups = mesh_groups(mesh, database)
        reference_groups = single(REFERENCE, reference.pid)
        services = {svc: python_process(pid) for svc in SERVICES if (pid := mesh.pid(svc))}
        rows: dict[str, Row] = {}
        memory = PeakRss(services)
        async with memory.sampling():
            for case in cases:
                c, seconds = case.concurrency or level, case.window * settings.seconds
                their_row = await ctx.measure(
                    f"{REFERENCE_NAME} {case.name}", case.reference, c, reference_groups, seconds
                )
                our_row = await ctx.measure(case.name, case.idmesh, c, groups, seconds)
                our_row.baseline = their_row.scenario
                if their_row.load.requests_per_second:
                    our_row.ratio = (
                        our_row.load.requests_per_second / their_row.load.requests_per_second
                    )
                rows[case.name] = our_row
                ctx.line(case.name, our_row, baseline=REFERENCE_NAME)
                ctx.line(case.name, their_row, system=REFERENCE_NAME)
                _cost_figure(ctx, case.name, our_row, their_row)
        for service, rss in memory.idle.items():
            ctx.report.idle_rss.setdefault(service, rss)
        ctx.report.peak_rss[SCIM_LOAD] = memory.peak
        _scale_figure(ctx, rows[FILTER_1K], rows[FILTER_100K])
        ctx.report.notes.append(
            f"SCIM rows: through gateway → auth → scim → directory → PostgreSQL, concurrency "
            f"{level}; {REFERENCE_NAME} in one process, in memory, same requests, same run"
        )


def _cost_figure(ctx: BenchContext, name: str, ours: Row, theirs: Row) -> None:
    """The mesh's CPU per request over scim2-server's, with the target when the case has one."""
    mine, reference = ours.cpu_ms.get(MESH), theirs.cpu_ms.get(REFERENCE)
    ratio = mine / reference if mine is not None and reference else None
    goal: Target | None = below(CPU_RATIO_TARGET, "×") if name in TARGETED else None
    note = (
        f"{mine or 0:.2f} vs {reference or 0:.2f} ms/req over {ours.load.requests:,} vs "
        f"{theirs.load.requests:,} requests at c={ours.load.concurrency}"
    )
    if disturbance(theirs):
        note += f"; theirs {disturbance(theirs)}"
    ctx.report.figures.append(
        Figure(f"{name}: mesh CPU / scim2-server's", ratio, "×", goal, note,
               busy=ours.busy or theirs.busy)
    )  # fmt: skip


def _scale_figure(ctx: BenchContext, small: Row, large: Row) -> None:
    low, high = small.load, large.load
    if not (low.p50_ms and high.p50_ms and low.p99_ms and high.p99_ms):
        return
    ctx.ratio(
        f"SCIM filter p50 latency 100k / 1k users, c={low.concurrency}",
        high.p50_ms / low.p50_ms,
        below(SCALE_TARGET, "×"),
        f"p50 {low.p50_ms:.1f} → {high.p50_ms:.1f} ms, p99 {high.p99_ms / low.p99_ms:.2f}×",
        busy=small.busy or large.busy,
    )
