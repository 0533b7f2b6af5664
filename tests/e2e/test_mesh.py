"""The mesh as ``make run`` starts it: four real processes, probes, one authenticated request end
to end, and graceful shutdown of each process on SIGTERM (docs/architecture.md "Running it")."""

from __future__ import annotations

import asyncio
import functools
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.dev.mesh import GRPC_SERVICES, SERVICES, Mesh, MeshError
from meshkit.channels import connect
from tests.e2e.harness import START_TIMEOUT, mesh_env, start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import create_tenant, create_tenant_with_cli

pytestmark = pytest.mark.e2e

# Kubernetes' default terminationGracePeriodSeconds is 30 s; an idle service must be far quicker.
STOP_WITHIN_SECONDS = 5.0


async def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_all_four_processes_start_and_the_gateway_is_live_and_ready(mesh: Mesh) -> None:
    """`make run` brings up everything; /healthz is 200 and /readyz is 200 only when every peer
    is SERVING (gateway readiness contract)."""
    assert all(mesh.is_running(service) for service in SERVICES)
    status, body = await get_json(f"{mesh.gateway_url}/healthz")
    assert status == 200, body
    status, body = await get_json(f"{mesh.gateway_url}/readyz")
    assert status == 200, body


async def test_a_token_made_with_the_cli_reads_its_account_through_gateway_and_directory(
    mesh: Mesh,
) -> None:
    """The newcomer's path printed by `make run`: `idmesh account create`, `idmesh token
    create`, then GET /api/v1/accounts/{name} with the token (gateway → auth → directory)."""
    tenant = await create_tenant_with_cli(mesh)
    status, body = await get_json(
        f"{mesh.gateway_url}/api/v1/accounts/{tenant.name}", tenant.headers
    )
    assert status == 200, body
    assert body["name"] == tenant.name
    assert body["id"] == tenant.account_id


async def test_a_token_cannot_read_another_tenants_account(mesh: Mesh) -> None:
    """Tenant isolation through the real processes: another account's name answers 404, the
    same as an unknown one, so a token cannot learn which tenants exist."""
    ours, theirs = await create_tenant(mesh), await create_tenant(mesh)
    status, _ = await get_json(f"{mesh.gateway_url}/api/v1/accounts/{theirs.name}", ours.headers)
    assert status == 404
    status, _ = await get_json(f"{mesh.gateway_url}/api/v1/accounts/{ours.name}")
    assert status == 401


async def _health(stub: Any) -> str:
    """SERVING / NOT_SERVING as the peer answers, or UNREACHABLE once it stopped answering."""
    try:
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
    except grpc.aio.AioRpcError:
        return "UNREACHABLE"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


async def _readiness(http: aiohttp.ClientSession, url: str) -> str:
    try:
        async with http.get(url) as response:
            return str(response.status)
    except (aiohttp.ClientError, TimeoutError):
        return "UNREACHABLE"


def _collapse(observed: list[str]) -> list[str]:
    """Consecutive duplicates removed: the sequence of states, not of polls."""
    return [state for i, state in enumerate(observed) if i == 0 or observed[i - 1] != state]


async def test_sigterm_stops_each_service_within_seconds_with_exit_code_0_after_draining(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """Graceful shutdown (meshkit.server, gateway __main__): on SIGTERM a gRPC service reports
    NOT_SERVING before it stops answering and the gateway's /readyz turns 503 before it closes,
    so probes take them out of rotation first; each then exits 0 within a few seconds."""
    mesh = await start_mesh(database_url, otlp_receiver, tmp_path)
    try:
        timeout = aiohttp.ClientTimeout(total=0.5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            url = f"{mesh.gateway_url}/readyz"
            observed, code, seconds = await _stop_observing(
                mesh, "gateway", lambda: _readiness(http, url)
            )
        assert code == 0, mesh.log_tail("gateway")
        assert seconds < STOP_WITHIN_SECONDS
        assert _collapse(observed)[-2:] == ["503", "UNREACHABLE"], observed

        for service in GRPC_SERVICES:
            async with connect(mesh.address(service)) as channel:
                stub: Any = health_pb2_grpc.HealthStub(channel)
                observed, code, seconds = await _stop_observing(
                    mesh, service, functools.partial(_health, stub)
                )
            assert code == 0, f"{service} exited {code}:\n{mesh.log_tail(service)}"
            assert seconds < STOP_WITHIN_SECONDS, f"{service} took {seconds:.1f}s"
            assert _collapse(observed)[-2:] == ["NOT_SERVING", "UNREACHABLE"], (service, observed)
    finally:
        await mesh.stop()


async def _stop_observing(
    mesh: Mesh, service: str, probe: Callable[[], Awaitable[str]]
) -> tuple[list[str], int, float]:
    """Sends SIGTERM to ``service`` and polls ``probe`` until the process has exited and the
    probe gets no answer; returns what the probe saw, the exit code and the seconds from the
    signal to the exit."""
    assert await probe() in ("SERVING", "200")
    started = time.monotonic()

    async def stop() -> tuple[int, float]:
        # Timed inside the task: a done-callback may run only after ``await stopping`` returns.
        code = await mesh.kill(service, signal.SIGTERM)
        return code, time.monotonic()

    stopping = asyncio.create_task(stop())
    observed: list[str] = []
    while not stopping.done() or observed[-1:] != ["UNREACHABLE"]:
        observed.append(await probe())
        await asyncio.sleep(0.05)
        if time.monotonic() - started > 3 * STOP_WITHIN_SECONDS:
            break
    code, exited_at = await stopping
    return observed, code, exited_at - started


async def test_a_process_that_exits_during_start_up_fails_the_start_with_its_log(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """The launcher's contract (infra/dev/mesh.py): a process that dies while starting fails
    `start` at once with the tail of its log, and nothing is left running."""
    mesh = Mesh(
        database_url,
        env_overrides=mesh_env(otlp_receiver),
        service_env={"gateway": {"PORT": "not-a-port"}},
        log_dir=tmp_path,
    )
    with pytest.raises(MeshError) as failure:
        await mesh.start(timeout=START_TIMEOUT)
    assert "gateway exited with code 2" in str(failure.value)
    assert "PORT is invalid" in str(failure.value)
    assert not any(mesh.is_running(service) for service in SERVICES)


@pytest.mark.parametrize("service", ["directory", "gateway"])
async def test_a_port_taken_between_the_check_and_the_bind_moves_the_service_to_another_port(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path: Path, service: str
) -> None:
    """The race `make run` used to lose: the port is free when the launcher checks it and taken
    by another process (here: this test, as soon as the service is spawned) before the service
    binds it. The service exits with EXIT_PORT_TAKEN (gRPC's and aiohttp's bind failures
    alike), the launcher moves it to another free port and starts the mesh again, and the
    addresses it reports are the ones bound."""
    taken: list[socket.socket] = []

    def take_the_port(spawned: str, pid: int) -> None:
        if spawned == service and not taken:
            thief = socket.socket()
            thief.bind(("127.0.0.1", mesh.ports[service]))
            thief.listen()
            taken.append(thief)

    mesh = Mesh(
        database_url,
        env_overrides=mesh_env(otlp_receiver),
        log_dir=tmp_path,
        on_spawn=take_the_port,
    )
    try:
        await mesh.start(timeout=START_TIMEOUT)
        stolen = taken[0].getsockname()[1]
        assert mesh.moved == {service: stolen}
        assert mesh.ports[service] != stolen
        log = (tmp_path / f"{service}.log").read_text()
        assert f"127.0.0.1:{stolen} is already in use" in log
        status, _ = await get_json(f"{mesh.gateway_url}/readyz")
        assert status == 200
        tenant = await create_tenant_with_cli(mesh)
        status, body = await get_json(
            f"{mesh.gateway_url}/api/v1/accounts/{tenant.name}",
            {"Authorization": f"Bearer {tenant.token}"},
        )
        assert (status, body["name"]) == (200, tenant.name)
    finally:
        await mesh.stop()
        for thief in taken:
            thief.close()
