"""A service with several workers is one supervisor and its children (meshkit.supervisor): no
worker outlives a SIGKILLed supervisor, SIGTERM lets every worker finish its calls in flight,
a worker's crash stops the service with a failure for the orchestrator to restart, a port
someone else listens on is refused before any worker starts, and ``WORKERS=1`` is exactly one
process. The launcher's kill and restart (infra/dev/mesh.py) handle a supervisor's children."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from idmesh.scim.v1 import scim_pb2, scim_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh, is_alive
from meshkit.channel_pool import ChannelPool
from meshkit.channels import connect, is_serving
from meshkit.ports import EXIT_PORT_TAKEN
from meshkit.server import GrpcServer
from meshkit.supervisor import EXIT_WORKER_FAILED
from tests.e2e.api.credentials import create_oauth_client
from tests.e2e.tenants import create_account, run_cli, unique_name
from tests.e2e.workers.conftest import WORKERS
from tests.e2e.workers.standalone import Standalone, listens
from tests.support.held_directory import HeldDirectory

pytestmark = pytest.mark.e2e

# Services of the mesh that run workers (the deliverer is one process whatever WORKERS says).
SUPERVISED = ("directory", "auth", "scim", "gateway")
# How long a condition may take to come true on a loaded two-core machine; never a measurement.
WITHIN_SECONDS = 30.0
IN_FLIGHT = 6


async def until(condition: Callable[[], bool], what: str, within: float = WITHIN_SECONDS) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"not within {within:g}s: {what}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("service", SUPERVISED)
async def test_a_sigkilled_supervisor_leaves_none_of_its_workers_running(
    workers_mesh: Mesh, service: str
) -> None:
    """Children never outlive a SIGKILLed supervisor (PR_SET_PDEATHSIG): the fault tests
    SIGKILL services, and a worker left behind would keep the port and serve stale code."""
    supervisor = workers_mesh.pid(service)
    workers = workers_mesh.worker_pids(service)
    assert supervisor is not None
    assert len(workers) == WORKERS
    os.kill(supervisor, signal.SIGKILL)  # the supervisor alone: its workers get nothing from us
    assert await workers_mesh.wait_exit(service) == -signal.SIGKILL
    await until(lambda: not any(is_alive(pid) for pid in workers), f"{service}'s workers exit")
    assert not listens(workers_mesh.ports[service])


async def test_the_launcher_kills_a_service_with_its_workers_and_restarts_every_worker(
    workers_mesh: Mesh,
) -> None:
    """mesh.kill (SIGKILL) takes the workers with the supervisor, so nothing listens on the port
    the moment it returns, and mesh.restart waits until every new worker serves."""
    workers = workers_mesh.worker_pids("scim")
    assert len(workers) == WORKERS
    await workers_mesh.kill("scim")
    assert not any(is_alive(pid) for pid in workers)
    assert not listens(workers_mesh.ports["scim"])
    await workers_mesh.restart("scim")
    restarted = workers_mesh.worker_pids("scim")
    assert len(restarted) == WORKERS
    assert not set(restarted) & set(workers)


async def test_one_worker_is_one_process_without_a_supervisor(mesh: Mesh) -> None:
    """WORKERS=1 (the launcher's default for tests and the benchmark): exactly one process per
    service, the one serving, with no child."""
    for service in SERVICES:
        assert mesh.is_running(service)
        assert mesh.worker_pids(service) == [], service


def scim_request(account_id: str) -> scim_pb2.HandleRequestRequest:
    return scim_pb2.HandleRequestRequest(
        account_id=account_id,
        token_id=str(uuid.uuid4()),
        permissions=["users:manage"],
        method="GET",
        path=f"/Users/{uuid.uuid4()}",
        base_url="http://127.0.0.1/scim/v2",
    )


def shutting_down(scim: Standalone) -> set[int]:
    """The workers that logged the start of their graceful stop."""
    return {
        int(entry["worker"])
        for entry in scim.entries()
        if entry.get("message") == "shutting down" and "worker" in entry
    }


async def test_sigterm_lets_every_worker_finish_its_calls_in_flight_then_exits_0(
    tmp_path: Path,
) -> None:
    """Graceful shutdown with workers: the supervisor passes SIGTERM on, each worker stops
    taking calls and finishes the ones it holds (here held by the directory until after the
    signal), then the supervisor exits 0 with no worker left."""
    # The generated base class declares every RPC abstract for type checkers; the fake
    # implements the two scim calls here, and any other would answer UNIMPLEMENTED.
    directory = HeldDirectory()  # type: ignore[abstract]
    server = GrpcServer("127.0.0.1", 0)
    server.add_service(
        directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"].full_name,
        lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, s),
    )
    await server.start()
    scim = Standalone(
        "scim",
        {"WORKERS": str(WORKERS), "DIRECTORY_ADDR": f"127.0.0.1:{server.port}"},
        tmp_path / "scim.log",
    )
    try:
        await scim.start()
        await scim.until_every_worker_serves()
        workers = scim.worker_pids()
        async with connect(scim.address, timeout=60.0) as channel:
            assert isinstance(channel, ChannelPool)
            assert await is_serving(channel)  # a pool starts connecting at its first call
            await until(lambda: len(channel.workers_reached) == WORKERS, "the pool reaches both")
            stub = scim_pb2_grpc.ScimServiceStub(channel)
            # In strict alternation over the two workers: three calls in flight in each.
            calls = [
                asyncio.ensure_future(stub.HandleRequest(scim_request(str(uuid.uuid4()))))
                for _ in range(IN_FLIGHT)
            ]
            await until(lambda: directory.held == IN_FLIGHT, "every call reaches the directory")
            os.kill(scim.pid, signal.SIGTERM)
            await until(lambda: shutting_down(scim) == {0, 1}, "both workers begin to stop")
            directory.release()
            answers = await asyncio.gather(*calls)
        assert [answer.status for answer in answers] == [404] * IN_FLIGHT
        assert await scim.wait_exit() == 0
        assert not any(is_alive(pid) for pid in workers)
    finally:
        await scim.close()
        await server.stop()


async def test_a_worker_that_dies_stops_the_others_gracefully_and_fails_the_supervisor(
    tmp_path: Path,
) -> None:
    """A worker's crash is the service's crash: the supervisor stops the other workers with
    SIGTERM (they drain) and exits non-zero, so the orchestrator restarts the whole service
    and counts it, rather than a supervisor hiding crashes behind restarts of its own."""
    scim = Standalone("scim", {"WORKERS": str(WORKERS)}, tmp_path / "scim.log")
    try:
        await scim.start()
        await scim.until_every_worker_serves()
        crashed, survivor = scim.worker_pids()
        os.kill(crashed, signal.SIGKILL)
        assert await scim.wait_exit() == EXIT_WORKER_FAILED
        assert not is_alive(survivor)
        assert len(shutting_down(scim)) == 1  # the survivor stopped gracefully
        assert any(
            f"(pid {crashed}) exited with code -9" in entry.get("message", "")
            for entry in scim.entries()
        ), scim.lines()
    finally:
        await scim.close()


async def test_a_supervisor_refuses_a_port_another_process_listens_on(tmp_path: Path) -> None:
    """Workers share their port with SO_REUSEPORT, but two processes never share one silently:
    the supervisor checks with a plain bind before starting any worker, and exits with
    EXIT_PORT_TAKEN when something else listens there, be it a plain listener or another
    supervisor's workers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        taken = Standalone(
            "scim", {"WORKERS": str(WORKERS), "PORT": str(port)}, tmp_path / "taken.log"
        )
        try:
            await taken.start()
            assert await taken.wait_exit() == EXIT_PORT_TAKEN
            assert "cannot listen" in taken.lines()
            assert not any("workers of scim" in e.get("message", "") for e in taken.entries())
        finally:
            await taken.close()

    first = Standalone("scim", {"WORKERS": str(WORKERS)}, tmp_path / "first.log")
    second = Standalone(
        "scim", {"WORKERS": str(WORKERS), "PORT": str(first.port)}, tmp_path / "second.log"
    )
    try:
        await first.start()
        await first.until_every_worker_serves()
        await second.start()
        assert await second.wait_exit() == EXIT_PORT_TAKEN
        assert first.process is not None
        assert first.process.returncode is None
    finally:
        await second.close()
        await first.close()


def key_id(access_token: str) -> str:
    header = access_token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def test_access_tokens_from_either_auth_worker_share_one_key_and_verify_anywhere(
    workers_mesh: Mesh,
) -> None:
    """Without IDMESH_SIGNING_KEYS_FILE, auth's workers sign with one key derived from their
    supervisor's secret (auth.oauth.signing), so a token one worker issued verifies at a
    gateway worker that fetched the keys from the other."""
    account_id = await create_account(workers_mesh, unique_name("workers"))
    client_id, secret = await create_oauth_client(workers_mesh, account_id, ["users:read"])
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    tokens = []
    connector = aiohttp.TCPConnector(force_close=True)  # each request to any gateway worker
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(8):
            async with http.post(
                f"{workers_mesh.gateway_url}/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            ) as response:
                assert response.status == 200, await response.text()
                tokens.append(str((await response.json())["access_token"]))
        for token in tokens:
            async with http.get(
                f"{workers_mesh.gateway_url}/api/v1/users",
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200, await response.text()
    assert len({key_id(token) for token in tokens}) == 1


CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


async def test_an_admin_form_rendered_by_one_gateway_worker_is_accepted_by_any_other(
    workers_mesh: Mesh,
) -> None:
    """The admin pages' CSRF token is an HMAC of the session under the gateway's key; its
    workers derive one key from their supervisor's secret (gateway.admin.guard), so the token a
    page carries is the same whichever worker rendered it, and a form posted over another
    connection (to another worker) is accepted. Eight pages over new connections: with a key
    per worker, two different tokens would show in all but 1 run in 128."""
    name = unique_name("workers")
    await create_account(workers_mesh, name)
    email = f"admin@{name}.example.com"
    password = "a long bootstrap password"
    await run_cli(
        workers_mesh, "admin", "create", "--account", name, "--email", email, stdin=password + "\n"
    )
    base = workers_mesh.gateway_url
    connector = aiohttp.TCPConnector(force_close=True)  # each request to any gateway worker
    jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of http://127.0.0.1
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
        async with http.post(
            f"{base}/admin/login",
            data={"account": name, "email": email, "password": password},
            headers={"Origin": base},
            allow_redirects=False,
        ) as response:
            assert response.status in (302, 303), await response.text()
        tokens = set()
        for _ in range(8):
            async with http.get(f"{base}/admin") as response:
                assert response.status == 200, await response.text()
                tokens.update(CSRF_INPUT.findall(await response.text()))
        assert len(tokens) == 1
        async with http.post(
            f"{base}/admin/logout",
            data={"csrf_token": tokens.pop()},
            headers={"Origin": base},
            allow_redirects=False,
        ) as response:
            assert response.status in (302, 303), await response.text()
