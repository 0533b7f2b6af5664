"""SCIM through the whole mesh (gateway → auth → scim → directory → PostgreSQL) beside the
reference implementation, scim2-server 0.8.3 (docs/scim-clients.md §8), measured in the
same run with the same requests, and filtered reads at 1k and 100k users.

Rows, at concurrency BENCH_SCIM_CONCURRENCY (16 by default), each server then the other:

- ``POST /Users``: an Entra-shaped user with a fresh userName per request;
- ``GET /Users?filter=userName eq "…"``: Entra's and Okta's matching request, on an account of
  1,000 users (the names cycle through all of them);
- ``PATCH /Users/{id}``: a replace of ``title`` with a new value (a real write), each worker on
  its own user;
- the filtered read again on an account of 100,000 users, at the same concurrency and at 1, to
  compare its latency with the 1k account's.

Issue 3's targets, printed with the figures and never asserted: creates ≥ 800/s and filtered
reads ≥ 1,500/s, each ≥ 3× the reference; filter latency at 100k within 1.5× of 1k.

The accounts idmesh reads are seeded in SQL (a few seconds for 100k rows, without audit events:
they are load, not history); the reference server, in memory, is seeded over HTTP. Its tools
live in their own virtualenv (tests/conformance/tools.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh, free_port
from meshkit.channels import connect
from tests.bench.context import BenchContext, disturbance
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.figures import at_least, below
from tests.bench.load import Session
from tests.bench.memory import python_process
from tests.bench.peak import PeakRss
from tests.bench.processes import stop_process
from tests.bench.report import Row
from tests.bench.summary import SCIM_LOAD
from tests.conformance.tools import binary, ensure_tools
from tests.e2e.tenants import create_token

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
REFERENCE = "scim2-server 0.8.3"
IDMESH = "idmesh"
SMALL, LARGE = 1_000, 100_000
# Issue 3's targets.
CREATE_TARGET, FILTER_TARGET, RATIO_TARGET, SCALE_TARGET = 800.0, 1500.0, 3.0, 1.5
_ACTOR = directory_pb2.Actor(
    type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="make bench"
)
# The bearer token of a throwaway local server.
_REFERENCE_TOKEN = "bench-reference-token"


def _concurrency() -> int:
    raw = os.environ.get("BENCH_SCIM_CONCURRENCY", "").strip() or "16"
    return max(int(raw), 1)


# -- the load target: SCIM requests over HTTP/1.1 keep-alive ----------------------------------


def user_body(user_name: str) -> dict[str, Any]:
    """What Entra sends to create a user (reference §2 row 4), minus what the reference server
    refuses (its 400s on Entra's quirks are §7's subject, not this one's)."""
    return {
        "schemas": [CORE],
        "externalId": str(uuid.uuid4()),
        "userName": user_name,
        "active": True,
        "displayName": "Bench User",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"formatted": "Bench User", "familyName": "User", "givenName": "Bench"},
    }


@dataclass(frozen=True)
class ScimHttp:
    """One kind of SCIM request against ``base_url``: "create", "filter" (over ``user_names``)
    or "patch" (over ``user_ids``). Picklable: the load generator opens it in its process."""

    base_url: str
    token: str
    kind: str
    user_names: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    timeout: float = 5.0

    def describe(self) -> str:
        return f"SCIM {self.kind} on {self.base_url}"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        session = _ScimSession(self, workers)
        await session.connect()
        return session


@dataclass
class _ScimSession:
    target: ScimHttp
    workers: int
    http: aiohttp.ClientSession | None = None
    counter: itertools.count[int] = field(default_factory=itertools.count)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    async def connect(self) -> None:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.workers),
            timeout=aiohttp.ClientTimeout(total=self.target.timeout),
            headers={"Authorization": f"Bearer {self.target.token}"},
        )

    def _request(self, worker: int) -> tuple[str, str, dict[str, str] | None, bytes | None]:
        target, n = self.target, next(self.counter)
        base = target.base_url
        if target.kind == "create":
            name = f"new-{self.run}-{worker}-{n}@bench.example"
            return "POST", f"{base}/Users", None, json.dumps(user_body(name)).encode()
        if target.kind == "filter":
            name = target.user_names[n % len(target.user_names)]
            return "GET", f"{base}/Users", {"filter": f'userName eq "{name}"'}, None
        user_id = target.user_ids[worker % len(target.user_ids)]
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": f"T{n}"}],
        }
        return "PATCH", f"{base}/Users/{user_id}", None, json.dumps(body).encode()

    async def call(self, worker: int) -> str | None:
        assert self.http is not None
        method, url, params, body = self._request(worker)
        headers = {"Content-Type": "application/scim+json"} if body is not None else None
        try:
            async with self.http.request(
                method, url, params=params, data=body, headers=headers
            ) as response:
                await response.read()
                if response.status >= 300:
                    return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__
        return None

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


# -- the reference server ---------------------------------------------------------------------


class ReferenceServer:
    """scim2-server in its own process, from the conformance tools' virtualenv, in memory."""

    def __init__(self, tools: Path) -> None:
        self.tools = tools
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = f"http://127.0.0.1:{self.port}/scim/v2"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            str(binary("scim2-server", self.tools)),
            "--hostname",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--bearer-token",
            _REFERENCE_TOKEN,
            "--tenant",
            "scim",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        headers = {"Authorization": f"Bearer {_REFERENCE_TOKEN}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
            for _ in range(200):
                if self.process.returncode is not None:
                    raise RuntimeError(f"scim2-server exited with {self.process.returncode}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    url = f"{self.base_url}/ServiceProviderConfig"
                    async with http.get(url, headers=headers) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError("scim2-server did not answer in 20 s")

    async def stop(self) -> None:
        process, self.process = self.process, None
        await stop_process(process)


# -- seeding ----------------------------------------------------------------------------------


async def _account(stub: Any, mesh: Mesh, name: str) -> tuple[str, str]:
    """A new account and a users:manage token for it: (account id, token secret)."""
    account = (
        await stub.CreateAccount(
            directory_pb2.CreateAccountRequest(name=name, display_name=name, actor=_ACTOR)
        )
    ).account
    return account.id, await create_token(mesh, account.id)


_SEED = """
INSERT INTO directory.users (account_id, user_name, external_id, name_given_name,
    name_family_name, name_formatted, display_name, emails, account_role_id, status)
SELECT $1::uuid, 'user-' || i || '@' || $2, 'ext-' || i, 'Given' || i, 'Family',
    'Given' || i || ' Family', 'User ' || i,
    jsonb_build_array(jsonb_build_object('value', 'user-' || i || '@' || $2, 'type', 'work',
        'primary', true, 'display', '')),
    (SELECT id FROM directory.roles WHERE account_id = $1::uuid AND name = 'Account Member'
        AND scope = 'account'),
    'pending'
FROM generate_series(1, $3::int) AS i
RETURNING id::text, user_name
"""


async def seed_sql(database_url: str, account_id: str, count: int) -> list[tuple[str, str]]:
    """``count`` users straight into the directory's table: (id, userName) of each."""
    domain = f"{account_id[:8]}.bench.example"
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_SEED, account_id, domain, count)
        await conn.execute("ANALYZE directory.users")
    finally:
        await conn.close()
    return [(row["id"], row["user_name"]) for row in rows]


async def seed_http(
    base_url: str, token: str, count: int, domain: str = "reference.bench.example"
) -> list[tuple[str, str]]:
    """``count`` users created over SCIM, 32 in flight: (id, userName) of each.

    A sliding window, not batches: scim2-server answers about one request in a hundred after a
    second, and batches would wait for that straggler every time (a minute for 1,000 users)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    created: list[tuple[str, str]] = []
    window = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(headers=headers) as http:

        async def one(i: int) -> None:
            name = f"user-{i}@{domain}"
            async with (
                window,
                http.post(f"{base_url}/Users", data=json.dumps(user_body(name))) as r,
            ):
                body = await r.json(content_type=None)
                if r.status != 201:
                    raise RuntimeError(f"seeding {base_url}: {r.status} {body}")
                created.append((body["id"], name))

        await asyncio.gather(*(one(i) for i in range(count)))
    return created


async def _check(target: ScimHttp) -> None:
    """One request of each kind by hand: the load counts only statuses, so the answer's content
    is checked once (a filter that matched nothing would be a fast, wrong figure)."""
    session = _ScimSession(target, 1)
    await session.connect()
    assert session.http is not None
    try:
        method, url, params, body = session._request(0)
        headers = {"Content-Type": "application/scim+json"} if body is not None else None
        async with session.http.request(
            method, url, params=params, data=body, headers=headers
        ) as response:
            text = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{target.describe()}: {response.status} {text[:300]!r}")
            if target.kind == "filter" and json.loads(text)["totalResults"] != 1:
                raise RuntimeError(f"{target.describe()}: the filter did not find its user")
    finally:
        await session.close()


# -- the run ----------------------------------------------------------------------------------


def _environment(tracing: bool) -> dict[str, str]:
    return mesh_environment("console" if tracing else "none")


def _ratio(row: Row, reference: Row) -> float | None:
    if not reference.load.requests_per_second:
        return None
    return row.load.requests_per_second / reference.load.requests_per_second


async def run(ctx: BenchContext) -> None:
    settings = ctx.settings
    concurrency = _concurrency()
    async with contextlib.AsyncExitStack() as stack:
        ctx.progress("SCIM: preparing the conformance tools' virtualenv (scim2-server)")
        tools = await asyncio.to_thread(ensure_tools)
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
        mesh = Mesh(database.url, env_overrides=_environment(settings.tracing), log_dir=log_dir)
        ctx.progress("SCIM: starting the mesh (directory, auth, scim, gateway)")
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)
        services = {svc: python_process(pid) for svc in SERVICES if (pid := mesh.pid(svc))}

        reference = ReferenceServer(tools)
        stack.push_async_callback(reference.stop)
        await reference.start()

        channel = connect(mesh.address("directory"))
        stack.push_async_callback(channel.close)
        stub: Any = directory_pb2_grpc.DirectoryServiceStub(channel)
        suffix = uuid.uuid4().hex[:6]
        writes_id, writes_token = await _account(stub, mesh, f"bench-writes-{suffix}")
        small_id, small_token = await _account(stub, mesh, f"bench-1k-{suffix}")
        large_id, large_token = await _account(stub, mesh, f"bench-100k-{suffix}")
        ctx.progress(f"SCIM: seeding {SMALL:,} + {LARGE:,} + {SMALL:,} users in SQL")
        small = await seed_sql(database.url, small_id, SMALL)
        large = await seed_sql(database.url, large_id, LARGE)
        writable = await seed_sql(database.url, writes_id, SMALL)
        ctx.progress(f"SCIM: seeding the reference server with {SMALL:,} users over HTTP")
        reference_users = await seed_http(reference.base_url, _REFERENCE_TOKEN, SMALL)

        gateway = f"{mesh.gateway_url}/scim/v2"
        timeout = settings.call_timeout

        def idmesh(token: str, kind: str, users: list[tuple[str, str]] | None = None) -> ScimHttp:
            ids = tuple(u[0] for u in users or ())
            names = tuple(u[1] for u in users or ())
            return ScimHttp(gateway, token, kind, names, ids, timeout)

        def ref(kind: str) -> ScimHttp:
            ids = tuple(u[0] for u in reference_users)
            names = tuple(u[1] for u in reference_users)
            return ScimHttp(reference.base_url, _REFERENCE_TOKEN, kind, names, ids, timeout)

        pairs = [
            ("POST /Users", ref("create"), idmesh(writes_token, "create")),
            ("GET filter userName (1k)", ref("filter"), idmesh(small_token, "filter", small)),
            ("PATCH /Users/{id}", ref("patch"), idmesh(writes_token, "patch", writable)),
        ]
        for _, reference_target, idmesh_target in pairs:
            await _check(reference_target)
            await _check(idmesh_target)
        large_filter = idmesh(large_token, "filter", large)
        await _check(large_filter)

        async def mesh_groups() -> dict[str, set[int]]:
            return {"server": set(services.values()), "database": await database.owned_pids()}

        async def reference_groups() -> dict[str, set[int]]:
            return {"server": {reference.pid}}

        rows: dict[str, tuple[Row, Row]] = {}
        memory = PeakRss(services)
        async with memory.sampling():
            for name, reference_target, idmesh_target in pairs:
                theirs = await ctx.measure(
                    f"{REFERENCE} {name}", reference_target, concurrency, reference_groups
                )
                ours = await ctx.measure(f"idmesh {name}", idmesh_target, concurrency, mesh_groups)
                ours.baseline, ours.ratio = theirs.scenario, _ratio(ours, theirs)
                rows[name] = (theirs, ours)
            at_scale = await ctx.measure(
                "idmesh GET filter userName (100k)", large_filter, concurrency, mesh_groups
            )
        for service, rss in memory.idle.items():
            ctx.report.idle_rss.setdefault(service, rss)
        ctx.report.peak_rss[SCIM_LOAD] = memory.peak
        single_small = await ctx.measure(
            "idmesh GET filter userName (1k)", idmesh(small_token, "filter", small), 1, mesh_groups
        )
        single_large = await ctx.measure(
            "idmesh GET filter userName (100k)", large_filter, 1, mesh_groups
        )
        _summarise(ctx, rows, at_scale, single_small, single_large, concurrency)


def _summarise(
    ctx: BenchContext,
    rows: dict[str, tuple[Row, Row]],
    at_scale: Row,
    single_small: Row,
    single_large: Row,
    concurrency: int,
) -> None:
    """Issue 3's figures and targets, as rows of the summary table."""
    ctx.report.notes.append(
        f"SCIM rows: through gateway → auth → scim → directory, concurrency {concurrency}; "
        f"'vs echo' on an idmesh row is its req/s over {REFERENCE}'s (same requests, same run)"
    )
    for name, title, target in (
        ("POST /Users", "SCIM POST /Users (create)", at_least(CREATE_TARGET)),
        (
            "GET filter userName (1k)",
            "SCIM GET filter userName eq, 1k users",
            at_least(FILTER_TARGET),
        ),
        ("PATCH /Users/{id}", "SCIM PATCH /Users/{id}", None),
    ):
        theirs, ours = rows[name]
        ctx.figure(title, ours, target)
        ctx.ratio(
            f"{title} vs {REFERENCE}",
            ours.ratio,
            at_least(RATIO_TARGET, "×") if target is not None else None,
            f"{REFERENCE} {theirs.load.requests_per_second:,.0f}/s, "
            f"p99 {theirs.load.p99_ms or 0:.0f} ms"
            + (f"; theirs {disturbance(theirs)}" if disturbance(theirs) else ""),
            busy=ours.busy or theirs.busy,
        )
    ctx.figure("SCIM GET filter userName eq, 100k users", at_scale)
    small = rows["GET filter userName (1k)"][1]
    for label, low, high in (
        (f"c={concurrency}", small, at_scale),
        ("c=1", single_small, single_large),
    ):
        if low.load.p50_ms and high.load.p50_ms and low.load.p99_ms and high.load.p99_ms:
            ctx.ratio(
                f"SCIM filter p50 latency 100k / 1k users, {label}",
                high.load.p50_ms / low.load.p50_ms,
                below(SCALE_TARGET, "×"),
                f"p50 {low.load.p50_ms:.1f} → {high.load.p50_ms:.1f} ms, "
                f"p99 {high.load.p99_ms / low.load.p99_ms:.2f}×",
                busy=low.busy or high.busy,
            )
