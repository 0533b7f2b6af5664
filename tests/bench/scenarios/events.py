"""The change feed: webhook events delivered per second to a local receiver, and what writing
the typed event costs a SCIM create (CPU ms per request of every mesh process and PostgreSQL,
with the feed's trigger off, then on).

Deliveries: a backlog of events per account is made first (users created over directory's
gRPC API), each account then registers an endpoint and the endpoint's cursor is rewound to 0,
so the deliverer starts from a full backlog and the figure is its own pace, not the writers'.
One endpoint is delivered to in order, one event at a time (the Standard Webhooks contract
this deliverer keeps); several endpoints go in parallel (WEBHOOK_WORKERS, 4).

SCIM create cost: the same sequential POST /scim/v2/Users load twice, first with the trigger
``audit_events_feed`` disabled (the audit event is still written: that is the cost before the
change feed), then enabled; CPU time of the mesh's processes and of our PostgreSQL backends over the
requests, divided by the requests.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import asyncpg
import psutil
from aiohttp import web

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh, free_port
from meshkit.channels import connect
from tests.bench.context import BenchContext
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.figures import Figure
from tests.bench.process_groups import service_trees

DELIVERED = "webhook events delivered /s"
SCIM_BEFORE = "SCIM create CPU ms, feed off"
SCIM_AFTER = "SCIM create CPU ms, feed on"
BACKLOG = 1000
ENDPOINTS = (1, 4)
SCIM_REQUESTS = 300
_ACTOR = directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="bench")


class _Receiver:
    """Counts 2xx-answered deliveries; no signature check (that is the tests' job)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.count = 0
        self.last = 0.0
        self.expected = 0
        self.all_arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _receive(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        self.last = time.perf_counter()
        if self.count >= self.expected:
            self.all_arrived.set()
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _account(mesh: Mesh) -> tuple[str, str]:
    """A new account and an API token with every permission this scenario uses."""
    async with connect(mesh.address("directory")) as channel:
        account = await directory_pb2_grpc.DirectoryServiceStub(channel).CreateAccount(
            directory_pb2.CreateAccountRequest(name=f"bench-{uuid.uuid4().hex[:8]}", actor=_ACTOR)
        )
    async with connect(mesh.address("auth")) as channel:
        token = await auth_pb2_grpc.AuthServiceStub(channel).CreateApiToken(
            auth_pb2.CreateApiTokenRequest(
                account_id=account.account.id,
                description="bench",
                permissions=["users:manage", "webhooks:manage"],
                created_by="bench",
            )
        )
    return account.account.id, token.secret


async def _users(mesh: Mesh, account_id: str, count: int) -> None:
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        for _ in range(count):
            await stub.CreateUser(
                directory_pb2.CreateUserRequest(
                    user=directory_pb2.User(account_id=account_id, user_name=uuid.uuid4().hex),
                    actor=_ACTOR,
                )
            )


async def _deliveries_per_second(
    mesh: Mesh, database: BenchDatabase, http: aiohttp.ClientSession, endpoints: int
) -> float:
    receiver = _Receiver()
    receiver.expected = BACKLOG // endpoints * endpoints
    await receiver.start()
    try:
        accounts = [await _account(mesh) for _ in range(endpoints)]
        await asyncio.gather(*(_users(mesh, a, BACKLOG // endpoints) for a, _ in accounts))
        for account_id, token in accounts:
            async with http.post(
                f"{mesh.gateway_url}/api/v1/webhooks",
                headers={"Authorization": f"Bearer {token}"},
                json={"url": f"http://127.0.0.1:{receiver.port}/{account_id}"},
            ) as response:
                assert response.status == 201, await response.text()
        conn = await asyncpg.connect(database.url)
        try:
            started = time.perf_counter()
            # Rewind: every event of these accounts is now owed to their endpoint.
            await conn.execute(
                "UPDATE directory.webhook_endpoints SET delivered_seq = 0"
                " WHERE account_id = ANY($1::uuid[])",
                [a for a, _ in accounts],
            )
            await conn.execute("SELECT pg_notify('directory_webhooks', '*')")
        finally:
            await conn.close()
        async with asyncio.timeout(300):
            await receiver.all_arrived.wait()
        return receiver.expected / (receiver.last - started)
    finally:
        await receiver.stop()


def _cpu_seconds(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def _scim_create_cpu_ms(
    mesh: Mesh, database: BenchDatabase, http: aiohttp.ClientSession, token: str
) -> float:
    async def create() -> None:
        async with http.post(
            f"{mesh.gateway_url}/scim/v2/Users",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"{uuid.uuid4().hex}@example.com",
            },
        ) as response:
            assert response.status == 201, await response.text()

    for _ in range(20):  # warm-up: connections, statement caches
        await create()
    # Each service with its worker children, and our PostgreSQL.
    pids = set().union(*service_trees(mesh).values())
    pids |= await database.owned_pids()
    before = _cpu_seconds(pids)
    for _ in range(SCIM_REQUESTS):
        await create()
    pids |= await database.owned_pids()
    return (_cpu_seconds(pids) - before) * 1000 / SCIM_REQUESTS


async def run(ctx: BenchContext) -> None:
    database = BenchDatabase()
    await database.start()
    ctx.own(database.owned_pids)
    env = {**mesh_environment("none"), "WEBHOOK_ALLOW_PRIVATE": "1"}
    logs = Path(tempfile.mkdtemp(prefix="idmesh-bench-events-"))
    mesh = Mesh(database.url, env_overrides=env, log_dir=logs)
    try:
        ctx.progress("events: starting the mesh")
        await mesh.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for endpoints in ENDPOINTS:
                ctx.progress(f"events: {BACKLOG} events to {endpoints} endpoint(s)")
                rate = await _deliveries_per_second(mesh, database, http, endpoints)
                ctx.report.figures.append(
                    Figure(
                        f"{DELIVERED}, {endpoints} endpoint(s)",
                        rate,
                        "/s",
                        note=f"backlog of {BACKLOG}, in order per endpoint",
                    )
                )
            _, token = await _account(mesh)
            conn = await asyncpg.connect(database.url)
            try:
                await conn.execute(
                    "ALTER TABLE directory.audit_events DISABLE TRIGGER audit_events_feed"
                )
                ctx.progress(f"events: {SCIM_REQUESTS} SCIM creates, feed off")
                off = await _scim_create_cpu_ms(mesh, database, http, token)
                await conn.execute(
                    "ALTER TABLE directory.audit_events ENABLE TRIGGER audit_events_feed"
                )
                ctx.progress(f"events: {SCIM_REQUESTS} SCIM creates, feed on")
                on = await _scim_create_cpu_ms(mesh, database, http, token)
            finally:
                await conn.close()
        note = f"{SCIM_REQUESTS} sequential creates, all mesh processes + PostgreSQL"
        ctx.report.figures.append(Figure(SCIM_BEFORE, off, "ms", note=note))
        ctx.report.figures.append(
            Figure(SCIM_AFTER, on, "ms", note=f"{note}; +{on - off:.2f} ms for the event")
        )
    finally:
        await mesh.stop()
        await database.stop()
        shutil.rmtree(logs, ignore_errors=True)
