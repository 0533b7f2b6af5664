"""Each service started the way its container is: the command and the environment come from the
rendered Kubernetes overlays and from the resolved compose file, not from a copy in this test.

What is kept from the manifests: the command (an installed console script, found through PATH
like /opt/venv/bin in the image), every variable and its value, HOST=0.0.0.0 included. What is
rewritten, because this is one machine and not a cluster: ports (free ones, mapped
consistently in PORT and in every peer address, whose dns:/// form is kept), the database URL
(a fresh database of the test server instead of the Secret's placeholder), the Collector's
address (a closed local port) and files mounted from Secrets (a fresh signing key set). Nothing
of the repository is on the path: the processes run from an empty folder with PYTHONPATH unset
and only the image's own variables besides the manifests'.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import aiohttp
import psutil
import pytest
from joserfc.jwk import ECKey

from meshkit.channels import connect, is_serving
from meshkit.testing import PostgresServer
from tests.deploy.manifests import (
    GRPC_SERVICES,
    SERVICES,
    ContainerRun,
    app_container,
    iter_sources,
    pod_spec,
    rendered,
    runs,
    secret_placeholder,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "infra/docker/healthcheck.py"
VENV_BIN = Path(sys.executable).parent
READY_WITHIN_SECONDS = 60.0
# `docker stop` and `docker compose down` wait 10 s before SIGKILL.
COMPOSE_STOP_SECONDS = 10.0
_ADDRESS = re.compile(r"^(?P<scheme>dns:///)?(?P<host>[a-z0-9.-]+):(?P<port>\d+)$")
_MEMORY = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def image_environment(home: Path) -> dict[str, str]:
    """What the runtime image itself provides (infra/docker/Dockerfile): the venv first on
    PATH, unbuffered output, no bytecode writes. Nothing else of this machine's environment."""
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class PortMap:
    """Manifest ports -> free local ports, so that PORT and every address stay consistent."""

    def __init__(self, runs_by_service: Mapping[str, ContainerRun]) -> None:
        self.by_manifest_port: dict[int, int] = {}
        self.service_of_port: dict[int, str] = {}
        for service, run in runs_by_service.items():
            manifest_port = int(run.env["PORT"])
            self.by_manifest_port[manifest_port] = free_port()
            self.service_of_port[manifest_port] = service
        self.collector = free_port()  # nothing listens there: export attempts fail quietly

    def local_port(self, service: str) -> int:
        for manifest_port, name in self.service_of_port.items():
            if name == service:
                return self.by_manifest_port[manifest_port]
        raise KeyError(service)

    def address(self, variable: str, value: str) -> str:
        """``value`` of a peer address variable, pointed at the local port of the service the
        manifest names (host and port must both designate that service)."""
        match = _ADDRESS.match(value)
        assert match, f"{variable}={value!r} is not host:port or dns:///host:port"
        host, port = match["host"], int(match["port"])
        assert port in self.service_of_port, f"{variable}={value}: no service listens on {port}"
        target = self.service_of_port[port]
        assert host.split(".")[0] == target, (
            f"{variable}={value}: port {port} is {target}'s, the host names {host}"
        )
        return f"{match['scheme'] or ''}127.0.0.1:{self.by_manifest_port[port]}"


def external_secret(reference: str) -> str:
    """A stand-in for a key of a Secret managed outside the repository (prod), in the format
    the service expects."""
    if reference == "idmesh-auth-keys/encryption-key":
        return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    raise AssertionError(f"the test has no stand-in for external secret {reference}")


def localise(run: ContainerRun, ports: PortMap, database_url: str, mounts: Path) -> dict[str, str]:
    """``run``'s environment for this machine (see the module docstring for what changes)."""
    env = dict(run.env)
    if "IDMESH_SIGNING_KEYS_FILE" in env:
        # The Secret the kubelet projects as a file: a fresh signing key set under ``mounts``.
        signing_key = ECKey.generate_key("P-256", private=True, auto_kid=True)
        keys_file = mounts / Path(env["IDMESH_SIGNING_KEYS_FILE"]).name
        keys_file.write_text(json.dumps({"keys": [signing_key.as_dict(private=True)]}))
        env["IDMESH_SIGNING_KEYS_FILE"] = str(keys_file)
    for variable, value in env.items():
        source = run.sources[variable]
        if source.kind != "secret" or variable == "DATABASE_URL":
            continue
        name, key = source.reference.split("/")
        if value == secret_placeholder(name, key):
            env[variable] = external_secret(source.reference)
    if "PORT" in env:
        env["PORT"] = str(ports.local_port(run.service))
    for variable in [v for v in env if v.endswith("_ADDR")]:
        env[variable] = ports.address(variable, env[variable])
    if "DATABASE_URL" in env:
        env["DATABASE_URL"] = database_url
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{ports.collector}"
    return env


def executable(command: tuple[str, ...], path: str) -> str:
    """The command's program looked up on the container's PATH; it must be one of the
    installed console scripts, as /opt/venv/bin holds them in the image."""
    found = shutil.which(command[0], path=path)
    assert found is not None, f"{command[0]} is not an installed console script"
    assert Path(found).parent == VENV_BIN, f"{command[0]} resolved outside the venv: {found}"
    return found


def tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


async def healthcheck_passes(service: str, env: Mapping[str, str], cwd: Path) -> bool:
    """The image's HEALTHCHECK (IDMESH_SERVICE is baked into the image) exits 0."""
    python = shutil.which("python", path=env["PATH"])
    assert python is not None
    process = await asyncio.create_subprocess_exec(
        python,
        str(HEALTHCHECK),
        env={**env, "IDMESH_SERVICE": service},
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait() == 0


def memory_bytes(quantity: str) -> int:
    for suffix, factor in _MEMORY.items():
        if quantity.endswith(suffix):
            return int(quantity.removesuffix(suffix)) * factor
    return int(quantity)


def stop_budget(source: str, service: str) -> float:
    """How long the platform lets ``service`` stop after SIGTERM before it kills it."""
    if source == "compose":
        return COMPOSE_STOP_SECONDS
    spec = pod_spec(rendered(source.removeprefix("k8s/")), service)
    pre_stop = app_container(rendered(source.removeprefix("k8s/")), service)["lifecycle"]
    # The kubelet runs preStop first; SIGTERM comes after it, inside the same grace period.
    return float(spec["terminationGracePeriodSeconds"]) - float(
        pre_stop["preStop"]["sleep"]["seconds"]
    )


@pytest.mark.parametrize("source", list(iter_sources()))
async def test_every_service_starts_healthy_with_the_manifests_command_and_environment(
    source: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    """Issue 7: started as its container would be (console script, the manifests' variables,
    no repository paths), against a database migrated by the manifests' own migrate step, each
    gRPC service reports SERVING, the gateway's /readyz answers 200, the image's HEALTHCHECK
    passes, the idle footprint fits the memory request, and SIGTERM stops each one cleanly
    within the platform's grace period."""
    migrate_run, service_runs = runs(source)
    ports = PortMap(service_runs)
    database_url = await postgres.create_database()
    workdir = tmp_path / "cwd"  # an empty folder: nothing importable from the checkout
    workdir.mkdir()
    (tmp_path / "home").mkdir()
    base = image_environment(tmp_path / "home")
    processes: dict[str, asyncio.subprocess.Process] = {}
    logs: dict[str, Path] = {}
    files: list[BinaryIO] = []
    try:
        # 1. The migrate step (initContainer / one-shot compose service) on an empty database.
        migrate_env = {**base, **localise(migrate_run, ports, database_url, tmp_path)}
        migrate = await asyncio.create_subprocess_exec(
            executable(migrate_run.command, base["PATH"]),
            *migrate_run.command[1:],
            env=migrate_env,
            cwd=workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(migrate.communicate(), timeout=60)
        assert migrate.returncode == 0, (
            f"{' '.join(migrate_run.command)} failed:\n{output.decode()}"
        )
        assert b"directory:" in output, output.decode()
        assert b"auth:" in output, output.decode()

        # 2. Every service, all at once as a rollout starts them.
        envs = {
            svc: {**base, **localise(run, ports, database_url, tmp_path)}
            for svc, run in service_runs.items()
        }
        for service, run in service_runs.items():
            logs[service] = tmp_path / f"{service}.log"
            log = logs[service].open("wb")
            files.append(log)
            processes[service] = await asyncio.create_subprocess_exec(
                executable(run.command, base["PATH"]),
                *run.command[1:],
                env=envs[service],
                cwd=workdir,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

        # 3. Healthy: the image's HEALTHCHECK passes for each, within the start-up budget.
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        pending = set(SERVICES)
        while pending:
            for service in sorted(pending):
                process = processes[service]
                assert process.returncode is None, (
                    f"{service} exited {process.returncode}:\n{tail(logs[service])}"
                )
                if await healthcheck_passes(service, envs[service], workdir):
                    pending.discard(service)
            if pending:
                assert time.monotonic() < deadline, "not healthy within {:g} s: {}\n{}".format(
                    READY_WITHIN_SECONDS,
                    ", ".join(sorted(pending)),
                    "\n".join(f"--- {s}\n{tail(logs[s])}" for s in sorted(pending)),
                )
                await asyncio.sleep(0.3)

        # 4. The probes Kubernetes runs: gRPC health SERVING, gateway /readyz 200 and /healthz.
        for service in GRPC_SERVICES:
            channel = connect(f"127.0.0.1:{ports.local_port(service)}")
            try:
                assert await is_serving(channel), f"{service} is not SERVING"
            finally:
                await channel.close()
        gateway = f"http://127.0.0.1:{ports.local_port('gateway')}"
        async with aiohttp.ClientSession() as session:
            for path in ("/readyz", "/healthz"):
                async with session.get(gateway + path) as response:
                    assert response.status == 200, f"gateway {path}: {await response.text()}"

        # 5. Reachable from other pods: each listens on every interface (HOST=0.0.0.0), not on
        # loopback only, which would pass every check above and still be useless in a pod.
        for service in SERVICES:
            port = ports.local_port(service)
            listening = {
                conn.laddr.ip
                for conn in psutil.Process(processes[service].pid).net_connections("inet")
                if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
            }
            assert listening & {"0.0.0.0", "::"}, f"{service} listens on {listening} only"

        # 6. The memory request covers each service's idle footprint (Kubernetes sources).
        if source.startswith("k8s/"):
            docs = rendered(source.removeprefix("k8s/"))
            for service in SERVICES:
                request = app_container(docs, service)["resources"]["requests"]["memory"]
                rss = psutil.Process(processes[service].pid).memory_info().rss
                assert rss < memory_bytes(request), (
                    f"{service}: idle RSS {rss / 2**20:.0f} MiB exceeds its request {request}"
                )

        # 7. SIGTERM: each stops by itself, exit status 0, within what the platform allows.
        started = time.monotonic()
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for service, process in processes.items():
            budget = stop_budget(source, service)
            remaining = max(0.1, budget - (time.monotonic() - started))
            code = await asyncio.wait_for(process.wait(), timeout=remaining)
            assert code == 0, f"{service} exited {code} on SIGTERM:\n{tail(logs[service])}"
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
        for file in files:
            file.close()
        await postgres.drop_database(database_url)


def test_the_services_see_no_repository_path_besides_the_installed_scripts() -> None:
    """Issue 7 ("no repository paths"): the environment the services start with has no
    PYTHONPATH, and the only entry pointing into the checkout is the venv's scripts folder,
    which stands for /opt/venv/bin in the image."""
    env = image_environment(Path("/nonexistent"))
    assert "PYTHONPATH" not in env
    first, *rest = env["PATH"].split(os.pathsep)
    assert Path(first) == VENV_BIN
    assert not any(str(ROOT) in entry for entry in rest)
    assert not any(str(ROOT) in value for key, value in env.items() if key != "PATH")
