"""A bare grpc.aio server with one unary method, in its own process: the ceiling.

No interceptors, no tracing, no health service, no database: it answers every request with the
same bytes, which the scenario takes from a real response of the method it compares against
(e.g. a serialized GetUserResponse), so both sides move the same number of bytes. It does not
parse or build protobuf either; for messages of this size that costs microseconds, so the
ceiling is grpc.aio itself and the ratio to it is what our services add on top.

Run as ``python -m tests.bench.echo <bench pid>``: reads the response bytes from stdin, binds an
ephemeral port on 127.0.0.1, prints ``port N`` and serves until SIGTERM or the bench's death.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from typing import Any

import grpc
import uvloop

from tests.bench.processes import stop_process

SERVICE = "idmesh.bench.v1.Echo"
METHOD = f"/{SERVICE}/Echo"
_START_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


def _handler(response: bytes) -> grpc.GenericRpcHandler:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return response

    # No (de)serializers: the handler sees and returns raw bytes.
    return grpc.method_handlers_generic_handler(
        SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )


async def _serve(response: bytes) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(response),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)


def _die_with_parent(parent: int) -> None:
    """SIGTERM when the bench dies: one killed without cleanup (SIGKILL, a CI timeout) must
    not leave its echo server running. Linux only; elsewhere a no-op."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # The bench may have died before the line above: then we were already reparented.
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


class EchoServer:
    """Starts and stops the echo process from the orchestrator."""

    def __init__(self, response: bytes) -> None:
        self._response = response
        self._process: asyncio.subprocess.Process | None = None
        self.address = ""

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    async def start(self) -> str:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.echo",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(self._response)
        self._process.stdin.close()
        line = await asyncio.wait_for(self._process.stdout.readline(), _START_SECONDS)
        word, _, port = line.decode().strip().partition(" ")
        if word != "port" or not port.isdigit():
            await self.stop()
            raise RuntimeError(f"echo server did not start (said {line!r})")
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        process, self._process = self._process, None
        await stop_process(process)


if __name__ == "__main__":
    _die_with_parent(int(sys.argv[1]))
    # The services' event loop (meshkit.service), so the ratio compares the work, not the loops.
    uvloop.run(_serve(sys.stdin.buffer.read()))
