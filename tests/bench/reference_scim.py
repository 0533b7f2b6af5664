"""scim2-server (the reference SCIM implementation, docs/scim-clients.md §8) as a child process of
the bench: started from the conformance tools' virtualenv with its tenants already filled
(tests/bench/scim2_server_seeded.py), stopped by the pid we started. Its output goes to a
temporary file, whose end is quoted when it fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from infra.dev.mesh import free_port
from tests.bench.processes import stop_process
from tests.bench.scim2_server_seeded import user_id, user_name
from tests.conformance.tools import binary

VERSION: Final = "0.8.3"
NAME: Final = f"scim2-server {VERSION}"
SEEDED: Final = Path(__file__).resolve().with_name("scim2_server_seeded.py")
# The bearer token of a throwaway local server.
TOKEN: Final = "bench-reference-token"
# Filling 100k users takes about 20 s on a busy two-core machine.
_START_SECONDS: Final = 180.0


@dataclass(frozen=True)
class Tenant:
    """What one tenant of the server holds: ``users`` users named ``user-<i>@<domain>``, and a
    group of the first ``group_members`` of them when non-zero."""

    name: str
    users: int
    domain: str
    group_members: int = 0

    def user(self, index: int) -> tuple[str, str]:
        """(id, userName) of user ``index``."""
        return user_id(self.name, index), user_name(index, self.domain)


class Scim2Server:
    def __init__(self, tools: Path, tenants: list[Tenant]) -> None:
        self.tools = tools
        self.tenants = tenants
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        # Lives as long as the process: closed by stop().
        self._output = tempfile.TemporaryFile()  # noqa: SIM115

    def base_url(self, tenant: Tenant) -> str:
        return f"http://127.0.0.1:{self.port}/{tenant.name}/v2"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    async def start(self) -> None:
        """Starts the process; it fills its tenants before it listens (see ``ready``)."""
        seed = {
            t.name: {"users": t.users, "domain": t.domain, "group_members": t.group_members}
            for t in self.tenants
        }
        self.process = await asyncio.create_subprocess_exec(
            str(binary("python", self.tools)), str(SEEDED), json.dumps(seed),
            "--hostname", "127.0.0.1", "--port", str(self.port), "--bearer-token", TOKEN,
            stdin=asyncio.subprocess.DEVNULL, stdout=self._output, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    async def ready(self) -> None:
        """Waits until every tenant answers (the filling is done)."""
        assert self.process is not None, "not started"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_SECONDS
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
            for tenant in self.tenants:
                url = f"{self.base_url(tenant)}/ServiceProviderConfig"
                while True:
                    if self.process.returncode is not None:
                        raise RuntimeError(
                            f"scim2-server exited with {self.process.returncode}: {self._tail()}"
                        )
                    if loop.time() > deadline:
                        raise RuntimeError(
                            f"scim2-server did not answer in {_START_SECONDS} s: {self._tail()}"
                        )
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(url, headers=headers) as response:
                            if response.status == 200:
                                break
                    await asyncio.sleep(0.25)

    def _tail(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")[-1500:]

    async def stop(self) -> None:
        process, self.process = self.process, None
        await stop_process(process)
        self._output.close()
