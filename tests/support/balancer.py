"""``RoundRobinBalancer``: a TCP load balancer on 127.0.0.1 for tests, in front of several
gateway replicas, as a Kubernetes Service (or an ingress) is in front of the gateway's pods.

Each new connection goes to the next backend in turn and stays there (a keep-alive connection
is never split across backends, as with kube-proxy). Bytes are copied both ways unchanged, so
the replicas see exactly what the client sent; the shared ``PUBLIC_URL`` of the replicas is
this balancer's ``url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence

_CHUNK = 64 * 1024


class RoundRobinBalancer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.backends: list[tuple[str, int]] = []
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, backends: Sequence[tuple[str, int]] = ()) -> None:
        """Listens on a free port; connections go to ``backends`` (settable later, before the
        first connection: the port is known before the replicas that need it start)."""
        self.backends = list(backends)
        self._server = await asyncio.start_server(self._relay, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            host, port = self.backends[next(self._turn) % len(self.backends)]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            except OSError:
                return  # the backend is down: the client sees its connection closed
            self._writers.add(upstream_writer)
            try:
                await asyncio.gather(_copy(reader, upstream_writer), _copy(upstream_reader, writer))
            finally:
                self._writers.discard(upstream_writer)
                upstream_writer.close()
        finally:
            self._writers.discard(writer)
            writer.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copies until the source's end, then half-closes the sink (an HTTP client may wait for
    the answer after sending its last byte)."""
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await source.read(_CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
