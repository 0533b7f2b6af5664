"""The HTTP server's lifecycle: bind, serve, and stop gracefully (as meshkit's GrpcServer does
for gRPC): readiness fails first and we pause so load balancers stop routing to us, then the
listening socket closes and in-flight requests finish within a grace period.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal

from aiohttp import web

from gateway.protocol_errors import ProblemAppRunner
from gateway.state import STOPPING
from meshkit.ports import PortTakenError
from meshkit.workers import current

logger = logging.getLogger(__name__)


class HttpServer:
    """Serves ``app`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        drain_seconds: float = 1.0,
        grace_seconds: float = 10.0,
    ) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._drain_seconds = drain_seconds
        # aiohttp's own access log is off: gateway.access_log writes a safe line per request;
        # its own error pages are replaced (gateway.protocol_errors).
        self._runner = ProblemAppRunner(app, access_log=None, shutdown_timeout=grace_seconds)
        self.port = 0

    async def start(self) -> int:
        """Binds and starts serving; returns the bound port."""
        await self._runner.setup()
        # Only the workers of one supervisor share the port; it made sure the port was free.
        site = web.TCPSite(self._runner, self._host, self._port, reuse_port=current().supervised)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()  # release what setup() made
            if error.errno == errno.EADDRINUSE:
                raise PortTakenError(f"{self._host}:{self._port}") from error
            raise
        self.port = int(self._runner.addresses[0][1])
        logger.info("serving HTTP on %s:%d", self._host, self.port)
        return self.port

    async def stop(self) -> None:
        """Readiness 503 first, a pause for probes to notice, then stop accepting, let in-flight
        requests finish (up to the grace period) and run the application's cleanup hooks."""
        self.app[STOPPING].set()
        await asyncio.sleep(self._drain_seconds)
        await self._runner.cleanup()

    async def serve_until_signal(self) -> None:
        """Runs until SIGTERM or SIGINT, then stops gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("shutting down")
        await self.stop()
