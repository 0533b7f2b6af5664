"""Ory Polis (npm @boxyhq/saml-jackson, pinned in tests/bench/polis/package-lock.json) as a child
process: installed with ``npm ci`` once per lock-file content, started on a free port with an
in-memory store, stopped by the pid we started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Final

import aiohttp

from infra.dev.mesh import free_port
from tests.bench.processes import stop_process

HERE: Final = Path(__file__).resolve().parent / "polis"
LOCK: Final = HERE / "package-lock.json"
STAMP: Final = HERE / "node_modules" / ".idmesh-lock-sha256"
PACKAGE: Final = "@boxyhq/saml-jackson"
# npm ci of Polis's 427 packages takes about three minutes on a cold cache.
_INSTALL_SECONDS: Final = 600.0
_START_SECONDS: Final = 60.0


class PolisUnavailable(RuntimeError):
    """Polis cannot run here; the message says why, for the summary table."""


def version() -> str:
    """The pinned version, from the lock file."""
    import json

    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{PACKAGE}"]["version"])


async def install() -> None:
    """``npm ci`` in tests/bench/polis unless node_modules already matches the lock file."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text(encoding="utf-8") == digest:
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PolisUnavailable("node and npm are not installed")
    process = await asyncio.create_subprocess_exec(
        npm, "ci", "--no-audit", "--no-fund", "--loglevel=error",
        cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), _INSTALL_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PolisUnavailable(f"npm ci did not finish in {_INSTALL_SECONDS:.0f} s") from None
    if process.returncode != 0:
        last = output.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise PolisUnavailable(f"not installable from the npm registry: {last[0][:120]}")
    STAMP.write_text(digest, encoding="utf-8")


class PolisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    async def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise PolisUnavailable("node is not installed")
        self._process = await asyncio.create_subprocess_exec(
            node, "server.mjs", cwd=HERE, env={**os.environ, "PORT": str(self.port)},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), _START_SECONDS)
        except TimeoutError:
            line = b""
        if line.strip() != b"listening":
            rest = b""
            with contextlib.suppress(TimeoutError):
                rest = await asyncio.wait_for(self._process.stdout.read(2000), 2)
            await self.stop()
            said = (line + rest).decode(errors="replace").strip()[-200:]
            raise PolisUnavailable(f"did not start: {said or 'no output'}")
        # Nothing else is read from stdout: drain it so a chatty library cannot block on a pipe.
        self._drain = asyncio.create_task(self._process.stdout.read())

    async def setup(self, metadata: str) -> str:
        """Creates the SAML connection from the IdP's metadata; Polis's ACS URL."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.url}/setup", json={"metadata": metadata}) as response,
        ):
            body = await response.json(content_type=None)
            if response.status != 200:
                raise PolisUnavailable(f"connection set-up failed: {body}")
            return str(body["acs_url"])

    async def stop(self) -> None:
        process, self._process = self._process, None
        await stop_process(process)
