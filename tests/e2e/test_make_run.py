"""`make run` (python -m infra.dev.run) as a developer uses it: it prints where to go, the
gateway answers /readyz, and Ctrl-C stops everything cleanly (docs/architecture.md "Running it")."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from infra.dev.mesh import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
READY_WITHIN_SECONDS = 60.0
STOP_WITHIN_SECONDS = 15.0


async def test_make_run_prints_the_addresses_serves_readyz_and_stops_on_ctrl_c(
    database_url: str, tmp_path: Path
) -> None:
    """`make run` with DATABASE_URL: ready within 60 s, prints the gateway URL and the first
    commands to type, and on SIGINT stops the services and exits 0."""
    gateway_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GATEWAY_PORT": str(gateway_port),
        "OTEL_TRACES_EXPORTER": "none",
        # Its pid file away from the checkout's .data, where a developer's make run may live.
        "IDMESH_DATA_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.dev.run",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []

    async def read_until(marker: str) -> None:
        assert process.stdout is not None
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"make run exited before {marker!r}:\n{''.join(output)}")
            output.append(line)
            if marker in line:
                return

    try:
        await asyncio.wait_for(read_until("Ctrl-C stops everything"), READY_WITHIN_SECONDS)
        printed = "".join(output)
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        assert gateway_url in printed
        assert "uv run idmesh account create acme" in printed
        assert "uv run idmesh token create --account acme" in printed
        assert "OTEL_TRACES_EXPORTER=none" in printed
        assert "DIRECTORY_ADDR=" not in printed, "the commands it prints work as typed"
        state = json.loads((tmp_path / "mesh.json").read_text())
        assert state["public_url"] == gateway_url
        assert f"directory      {state['directory']}" in printed
        # The CLI, with no address in its environment, finds the mesh through the data folder.
        cli_env = {
            k: v
            for k, v in env.items()
            if k not in ("DIRECTORY_ADDR", "AUTH_ADDR", "SCIM_ADDR", "PUBLIC_URL", "GATEWAY_URL")
        }
        created = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "idmesh_cli",
            "account",
            "create",
            "--json",
            f"run-{gateway_port}",
            cwd=ROOT,
            env=cli_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(created.communicate(), 30)
        assert created.returncode == 0, err.decode()
        assert json.loads(out)["name"] == f"run-{gateway_port}"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(f"{gateway_url}/readyz") as response,
        ):
            assert response.status == 200

        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), STOP_WITHIN_SECONDS)
        output.append(rest.decode())
        assert process.returncode == 0, "".join(output)
        assert "exit codes other than 0" not in "".join(output)
        assert not (tmp_path / "run.pids").exists(), "a clean stop leaves no pid file behind"
        assert not (tmp_path / "mesh.json").exists(), "nor addresses of a mesh that is gone"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
