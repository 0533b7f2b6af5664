"""One service started on its own, as its container runs it (``python -m scim`` configured by
the environment), for the tests of its supervisor: its pid, its workers' pids, its JSON log
lines, and a way to wait until every worker serves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from infra.dev.mesh import child_pids, free_port
from meshkit.channel_pool import probe_new_connection


def listens(port: int) -> bool:
    """Whether any socket of this machine listens on TCP ``port`` (/proc/net/tcp{,6}: state 0A).
    Unlike a bind test, a client's connection that happens to use the port as its own does not
    count."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


class Standalone:
    """``python -m <module>`` on a free port of 127.0.0.1 with ``env``, logging JSON lines to
    ``log``; the caller kills it (``close``) when the test is over."""

    def __init__(self, module: str, env: Mapping[str, str], log: Path) -> None:
        self.module = module
        self.port = int(env["PORT"]) if "PORT" in env else free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # Peers nobody listens on unless the test says otherwise.
            "DIRECTORY_ADDR": f"127.0.0.1:{free_port()}",
            "LOG_FORMAT": "json",
            "OTEL_TRACES_EXPORTER": "none",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log = log
        self._output: IO[bytes] | None = None
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid)

    async def start(self) -> None:
        self._output = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._output,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def until_every_worker_serves(self, within: float = 60.0) -> set[int]:
        """The indices of the workers, once each has answered a health check over a new
        connection (the kernel hands each new connection to any of them)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        heard: set[int] = set()
        while True:
            assert self.process is not None
            assert self.process.returncode is None, self.lines()
            probed = await probe_new_connection(self.address, deadline=1.0)
            if probed is not None and probed[0] and probed[1] is not None:
                heard.add(probed[1].index)
                if len(heard) == probed[1].count:
                    return heard
            assert loop.time() < deadline, f"not every worker served: {self.lines()}"
            await asyncio.sleep(0.05)

    async def wait_exit(self, within: float = 30.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)

    def entries(self) -> list[dict[str, Any]]:
        """Every JSON line the service wrote."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    found.append(entry)
        return found

    def lines(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    async def close(self) -> None:
        """SIGKILL to whatever still runs of it: the supervisor and its workers."""
        if self.process is not None and self.process.returncode is None:
            for pid in [*self.worker_pids(), self.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await self.process.wait()
        if self._output is not None:
            self._output.close()
