"""directory's access questions over gRPC (GetUserAccess, CheckAccess) against the echo
ceiling, and every service's memory at idle.

The whole mesh runs, started by the launcher `make run` and the end-to-end tests use, with the
production environment (JSON logs at info, tracing as the run is configured): these calls only
reach directory, but the memory table wants every service, and the other processes sitting idle
beside it is how production looks too. Each method's echo (answering that method's real
response bytes) and the method alternate at each concurrency, so that both sides of a ratio
are measured seconds apart, under the same conditions. CPU per request is directory's and
PostgreSQL's: nothing else is on the path.

Targets: each call ≤ 0.5 ms of directory + PostgreSQL CPU, and ≥ 0.8× the echo's calls/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext
from tests.bench.cost import DIRECTORY, MESH, REFERENCE
from tests.bench.database import BenchDatabase
from tests.bench.echo import METHOD as ECHO_METHOD
from tests.bench.echo import EchoServer
from tests.bench.environment import mesh_environment
from tests.bench.figures import Figure, at_least, below
from tests.bench.load import GrpcUnary
from tests.bench.memory import Memory, python_process, resident
from tests.bench.process_groups import mesh_groups, single
from tests.bench.report import MemoryRow, Row

ECHO: Final = "grpc.aio echo"
_SERVICE = directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"]
GET_USER_ACCESS: Final = f"/{_SERVICE.full_name}/GetUserAccess"
CHECK_ACCESS: Final = f"/{_SERVICE.full_name}/CheckAccess"
# The cost table's names of the two cases, by method.
CASES: Final = {GET_USER_ACCESS: "GetUserAccess (gRPC)", CHECK_ACCESS: "CheckAccess (gRPC)"}
CPU_TARGET_MS: Final = 0.5
ECHO_RATIO_TARGET: Final = 0.8
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


async def _seed(stub: directory_pb2_grpc.DirectoryServiceAsyncStub) -> Access:
    """One account with a user, its manager, two spaces and a group, through the API as any
    client would: the user holds Space Developer in one space directly and Space Admin in the
    other through the group, so an access answer has both kinds of grant to assemble."""
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
    user = (
        await stub.CreateUser(
            directory_pb2.CreateUserRequest(
                user=_user(account.id, manager), initial_status=active, actor=_ACTOR
            )
        )
    ).user
    roles = (await stub.ListRoles(directory_pb2.ListRolesRequest(account_id=account.id))).roles
    role = {r.name: r.id for r in roles}
    spaces = []
    for name in ("DevOps", "Payments"):
        created = await stub.CreateSpace(
            directory_pb2.CreateSpaceRequest(
                space=directory_pb2.Space(account_id=account.id, name=name), actor=_ACTOR
            )
        )
        spaces.append(created.space.id)
    await stub.GrantSpaceRole(
        directory_pb2.GrantSpaceRoleRequest(
            account_id=account.id, user_id=user.id, space_id=spaces[0],
            role_id=role["Space Developer"], source=directory_pb2.MEMBERSHIP_SOURCE_MANUAL,
            actor=_ACTOR,
        )
    )  # fmt: skip
    group = (
        await stub.CreateGroup(
            directory_pb2.CreateGroupRequest(
                group=directory_pb2.Group(account_id=account.id, display_name="Platform"),
                actor=_ACTOR,
            )
        )
    ).group
    await stub.ModifyGroupMembers(
        directory_pb2.ModifyGroupMembersRequest(
            account_id=account.id, group_id=group.id, add_user_ids=[user.id],
            source=directory_pb2.MEMBERSHIP_SOURCE_MANUAL, actor=_ACTOR,
        )
    )  # fmt: skip
    await stub.SetGroupSpaceRoles(
        directory_pb2.SetGroupSpaceRolesRequest(
            account_id=account.id, group_id=group.id,
            space_roles=[directory_pb2.GroupSpaceRole(space_id=spaces[1],
                                                      role_id=role["Space Admin"])],
            actor=_ACTOR,
        )
    )  # fmt: skip
    return Access(account.id, user.id, spaces[1])


@dataclass(frozen=True)
class Access:
    account_id: str
    user_id: str
    # The space where the user's role comes through the group.
    group_space_id: str


async def _checked_requests(
    stub: directory_pb2_grpc.DirectoryServiceAsyncStub, seeded: Access
) -> dict[str, tuple[bytes, bytes]]:
    """Method path → (request bytes, a real response's bytes), each answer checked once: the
    load counts only status codes, and the echo answers exactly these bytes."""
    access = directory_pb2.GetUserAccessRequest(
        account_id=seeded.account_id, user_id=seeded.user_id
    )
    answer = await stub.GetUserAccess(access)
    if len(answer.spaces) != 2 or len(answer.groups) != 1:
        raise RuntimeError(f"GetUserAccess did not return the seeded access: {answer}")
    check = directory_pb2.CheckAccessRequest(
        account_id=seeded.account_id, user_id=seeded.user_id,
        space_id=seeded.group_space_id, permission="space:manage",
    )  # fmt: skip
    allowed = await stub.CheckAccess(check)
    if not allowed.allowed:
        raise RuntimeError(f"CheckAccess refused the group's grant: {allowed.reason}")
    return {
        GET_USER_ACCESS: (access.SerializeToString(), answer.SerializeToString()),
        CHECK_ACCESS: (check.SerializeToString(), allowed.SerializeToString()),
    }


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
        ctx.progress("starting the mesh")
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)

        channel = connect(mesh.address("directory"))
        stack.push_async_callback(channel.close)
        stub: directory_pb2_grpc.DirectoryServiceAsyncStub = (
            directory_pb2_grpc.DirectoryServiceStub(channel)
        )
        calls = await _checked_requests(stub, await _seed(stub))
        echoes: dict[str, EchoServer] = {}
        for method, (request, response) in calls.items():
            echoes[method] = EchoServer(response)
            stack.push_async_callback(echoes[method].stop)
            await echoes[method].start()
            ctx.report.notes.append(
                f"{CASES[method]}: request {len(request)} B, response {len(response)} B; "
                "its echo answers the same bytes"
            )

        services: dict[str, int] = {}
        for service in SERVICES:
            pid = mesh.pid(service)
            if pid is not None:
                services[service] = python_process(pid)
        processes = {
            **services,
            **{f"echo ({CASES[m]})": e.pid for m, e in echoes.items()},
        }
        await asyncio.sleep(_SETTLE_SECONDS)
        after_start = _memory(processes)
        for name in services:
            if (memory := after_start[name]) is not None:
                ctx.report.idle_rss.setdefault(name, memory.rss_mib)

        # Only directory and PostgreSQL are on these calls' path.
        groups = mesh_groups(mesh, database, services=(DIRECTORY,))
        errors = 0
        for concurrency in settings.concurrencies:
            for method, (request, _) in calls.items():
                echo = echoes[method]
                ceiling = GrpcUnary(echo.address, ECHO_METHOD, request, settings.call_timeout)
                target = GrpcUnary(
                    mesh.address("directory"), method, request, settings.call_timeout
                )
                echo_row = await ctx.measure(
                    f"echo of {CASES[method]}", ceiling, concurrency,
                    single(REFERENCE, echo.pid),
                )  # fmt: skip
                row = await ctx.measure(CASES[method], target, concurrency, groups)
                errors += row.load.errors + echo_row.load.errors
                _compare(ctx, CASES[method], row, echo_row)

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


def _compare(ctx: BenchContext, case: str, row: Row, echo_row: Row) -> None:
    """The cost table's two lines and the targets' two figures of one method at one
    concurrency."""
    row.baseline = echo_row.scenario
    if echo_row.load.requests_per_second > 0:
        row.ratio = row.load.requests_per_second / echo_row.load.requests_per_second
    if echo_row.busy and not row.busy:
        # A disturbed ceiling flatters the ratio; this row's own flag would not say so.
        row.note = "; ".join(filter(None, [row.note, "echo row busy: ratio too high"]))
    ctx.line(case, row, baseline=ECHO)
    ctx.line(case, echo_row, system=ECHO)
    c = row.load.concurrency
    ctx.report.figures.append(
        Figure(
            f"{case} CPU, directory + PG, c={c}",
            row.cpu_ms.get(MESH),
            "ms/req",
            below(CPU_TARGET_MS),
            note=f"echo {echo_row.cpu_ms.get(REFERENCE, 0):.2f} ms/req",
            busy=row.busy,
        )
    )
    ctx.ratio(
        f"{case} calls/s vs grpc.aio echo, c={c}",
        row.ratio,
        at_least(ECHO_RATIO_TARGET, "×"),
        note=f"{row.load.requests_per_second:,.0f} vs {echo_row.load.requests_per_second:,.0f}/s",
        busy=row.busy or echo_row.busy,
    )
