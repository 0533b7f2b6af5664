"""directory GetUser against the echo ceiling, and every service's memory at idle.

The whole mesh runs, started by the launcher `make run` and the end-to-end tests use, with the
production environment (JSON logs at info, tracing as the run is configured): GetUser only
reaches directory, but the memory table wants every service, and the other processes sitting
idle beside it is how production looks too. Echo and directory alternate at each concurrency so
that both sides of a ratio are measured minutes apart at most, under the same conditions.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext
from tests.bench.database import BenchDatabase
from tests.bench.echo import METHOD as ECHO_METHOD
from tests.bench.echo import EchoServer
from tests.bench.environment import mesh_environment
from tests.bench.load import GrpcUnary
from tests.bench.memory import Memory, python_process, resident
from tests.bench.report import MemoryRow

SCENARIO = "directory GetUser"
ECHO = "echo (bare grpc.aio)"
_SERVICE = directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"]
GET_USER = f"/{_SERVICE.full_name}/GetUser"
# Start-up work (imports, pool creation, first connections) settles before "idle" memory.
_SETTLE_SECONDS = 2.0
_ACTOR = directory_pb2.Actor(
    type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="make bench"
)


def _environment(tracing: bool) -> dict[str, str]:
    """What production sets (infra/k8s): JSON logs at info; the tracing exporter of the run."""
    return mesh_environment("console" if tracing else "none")


def _discarding_log_dir() -> Path:
    """A log folder whose files are /dev/null: with the console exporter every span is written
    to stdout, which is what this run measures, without filling a disk with them. The launcher
    appends to ``<log_dir>/<service>.log``, so symbolic links to /dev/null do it."""
    folder = Path(tempfile.mkdtemp(prefix="idmesh-bench-"))
    for service in SERVICES:
        (folder / f"{service}.log").symlink_to("/dev/null")
    return folder


def _manager(account_id: str) -> directory_pb2.User:
    return directory_pb2.User(
        account_id=account_id,
        user_name="grace.hopper@example.com",
        name=directory_pb2.Name(given_name="Grace", family_name="Hopper"),
        display_name="Grace Hopper",
        title="VP Engineering",
        active=True,
        emails=[
            directory_pb2.MultiValue(value="grace.hopper@example.com", type="work", primary=True)
        ],
    )


def _user(account_id: str, manager: directory_pb2.User) -> directory_pb2.User:
    """A user as an Entra or Okta SCIM client provisions one: core and enterprise attributes,
    several emails and phone numbers, an address, a manager."""
    return directory_pb2.User(
        account_id=account_id,
        user_name="ada.lovelace@example.com",
        external_id="00u8f3k2q9XyZ1aB5d7",
        name=directory_pb2.Name(
            formatted="Dr. Ada King Lovelace",
            family_name="Lovelace",
            given_name="Ada",
            middle_name="King",
            honorific_prefix="Dr.",
        ),
        display_name="Ada Lovelace",
        nick_name="Ada",
        profile_url="https://intranet.example.com/people/ada.lovelace",
        title="Principal Engineer",
        user_type="Employee",
        preferred_language="en-GB",
        locale="en-GB",
        timezone="Europe/London",
        active=True,
        emails=[
            directory_pb2.MultiValue(value="ada.lovelace@example.com", type="work", primary=True),
            directory_pb2.MultiValue(value="ada@lovelace.example.org", type="home"),
        ],
        phone_numbers=[
            directory_pb2.MultiValue(value="+44 20 7946 0958", type="work", primary=True),
            directory_pb2.MultiValue(value="+44 7700 900123", type="mobile"),
        ],
        addresses=[
            directory_pb2.Address(
                formatted="12 St James's Square, London SW1Y 4LB, GB",
                street_address="12 St James's Square",
                locality="London",
                postal_code="SW1Y 4LB",
                country="GB",
                type="work",
                primary=True,
            )
        ],
        enterprise=directory_pb2.EnterpriseAttributes(
            employee_number="701984",
            cost_center="4130",
            organization="Example Ltd",
            division="Engineering",
            department="Platform",
            manager_id=manager.id,
            manager_display_name=manager.display_name,
        ),
    )


async def _seed(stub: directory_pb2_grpc.DirectoryServiceAsyncStub) -> directory_pb2.User:
    """One account with a user and its manager, through the API as any client would."""
    account = (
        await stub.CreateAccount(
            directory_pb2.CreateAccountRequest(name="bench", display_name="Bench Ltd", actor=_ACTOR)
        )
    ).account
    active = directory_pb2.USER_STATUS_ACTIVE
    manager = (
        await stub.CreateUser(
            directory_pb2.CreateUserRequest(
                user=_manager(account.id), initial_status=active, actor=_ACTOR
            )
        )
    ).user
    return (
        await stub.CreateUser(
            directory_pb2.CreateUserRequest(
                user=_user(account.id, manager), initial_status=active, actor=_ACTOR
            )
        )
    ).user


def _memory(pids: dict[str, int]) -> dict[str, Memory | None]:
    return {name: resident(pid) for name, pid in pids.items()}


async def run(ctx: BenchContext) -> None:
    settings = ctx.settings
    async with contextlib.AsyncExitStack() as stack:
        ctx.progress("starting PostgreSQL and applying migrations")
        database = BenchDatabase()
        stack.push_async_callback(database.stop)
        await database.start()
        ctx.own(database.owned_pids)
        ctx.report.notes.append(f"database: {database.description}")

        if settings.tracing:
            log_dir = _discarding_log_dir()
        else:
            log_dir = Path(tempfile.mkdtemp(prefix="idmesh-bench-"))
        # Logs are deleted after a clean run and kept when something failed, for the post-mortem.
        keep_logs = [True]

        def remove_logs() -> None:
            # With tracing on the "logs" are links to /dev/null: nothing worth keeping.
            if keep_logs[0] and not settings.tracing:
                ctx.progress(f"service logs kept in {log_dir}")
            else:
                shutil.rmtree(log_dir, ignore_errors=True)

        stack.callback(remove_logs)
        mesh = Mesh(database.url, env_overrides=_environment(settings.tracing), log_dir=log_dir)
        ctx.progress("starting the mesh (directory, auth, scim, gateway)")
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)

        channel = connect(mesh.address("directory"))
        stack.push_async_callback(channel.close)
        stub: directory_pb2_grpc.DirectoryServiceAsyncStub = (
            directory_pb2_grpc.DirectoryServiceStub(channel)
        )
        user = await _seed(stub)
        request = directory_pb2.GetUserRequest(account_id=user.account_id, user_id=user.id)
        # A real answer, checked once: the load counts only status codes, and the echo server
        # answers with exactly these bytes.
        response = await stub.GetUser(request)
        if response.user.id != user.id or response.user.user_name != user.user_name:
            raise RuntimeError("GetUser did not return the seeded user")
        ctx.report.notes.append(
            f"GetUser: request {request.ByteSize()} B, response {response.ByteSize()} B "
            "(a seeded user with core and enterprise attributes); echo answers the same bytes"
        )

        echo = EchoServer(response.SerializeToString())
        stack.push_async_callback(echo.stop)
        await echo.start()

        services: dict[str, int] = {}
        for service in SERVICES:
            pid = mesh.pid(service)
            if pid is not None:
                services[service] = python_process(pid)
        processes = {**services, ECHO: echo.pid}
        await asyncio.sleep(_SETTLE_SECONDS)
        after_start = _memory(processes)
        for name in services:
            if (memory := after_start[name]) is not None:
                ctx.report.idle_rss.setdefault(name, memory.rss_mib)

        async def mesh_groups() -> dict[str, set[int]]:
            return {"server": set(services.values()), "database": await database.owned_pids()}

        async def echo_groups() -> dict[str, set[int]]:
            return {"server": {echo.pid}}

        payload = request.SerializeToString()
        directory = GrpcUnary(mesh.address("directory"), GET_USER, payload, settings.call_timeout)
        ceiling = GrpcUnary(echo.address, ECHO_METHOD, payload, settings.call_timeout)
        errors = 0
        for concurrency in settings.concurrencies:
            echo_row = await ctx.measure(ECHO, ceiling, concurrency, echo_groups)
            row = await ctx.measure(SCENARIO, directory, concurrency, mesh_groups)
            row.baseline = ECHO
            if echo_row.load.requests_per_second > 0:
                row.ratio = row.load.requests_per_second / echo_row.load.requests_per_second
            if echo_row.busy and not row.busy:
                # A disturbed ceiling flatters the ratio; this row's own flag would not say so.
                row.note = "; ".join(filter(None, [row.note, "echo row busy: ratio too high"]))
            errors += row.load.errors + echo_row.load.errors
            ctx.figure(
                f"directory GetUser (gRPC), c={concurrency}",
                row,
                note=f"bare grpc.aio echo {echo_row.load.requests_per_second:,.0f}/s, "
                f"ours {row.ratio or 0:.2f}× of it",
            )

        await asyncio.sleep(_SETTLE_SECONDS)
        after_load = _memory(processes)
        ctx.report.memory += [
            MemoryRow(name, pid, after_start[name], after_load[name])
            for name, pid in processes.items()
        ]
        if errors and not settings.tracing:
            ctx.report.notes.append(f"service logs kept in {log_dir}")
        else:
            keep_logs[0] = False
