"""gRPC server bootstrap shared by every service.

One ``GrpcServer`` carries the conventions: the one interceptor that traces every call and maps
its errors (meshkit.call_guard), the standard health service, reflection, a bound on the calls
in progress (RESOURCE_EXHAUSTED beyond it, never an unbounded queue), and graceful shutdown on
SIGTERM: health turns NOT_SERVING first so load balancers and readiness probes stop sending
work, then in-flight calls drain within a grace period.

The workers of one service (meshkit.supervisor) share its port with SO_REUSEPORT, and each
health check's answer names the worker that gave it (meshkit.workers.METADATA_KEY), which is
how a client's channel pool learns which worker each of its connections reached.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from meshkit.call_guard import CallGuard
from meshkit.ports import PortTakenError
from meshkit.workers import METADATA_KEY, WorkerIdentity, current

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_CONCURRENT_RPCS = 1000
"""Calls a server runs at once; beyond it grpc answers RESOURCE_EXHAUSTED at once instead of
queueing without bound. Far above the 32 calls at once that saturate a service in the benchmark
(README, Performance), so only a flood meets it."""


class _IdentifyingHealth(health.aio.HealthServicer):
    """The standard health service, whose Check answers also name this worker."""

    def __init__(self, identity: WorkerIdentity) -> None:
        super().__init__()
        self._metadata = ((METADATA_KEY, identity.header()),)

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        await context.send_initial_metadata(self._metadata)
        check: Any = super().Check  # typed as returning None; it returns the response
        return await check(request, context)


class GrpcServer:
    """A grpc.aio server with health, reflection, tracing and error mapping."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        drain_seconds: float = 1.0,
        grace_seconds: float = 10.0,
        max_concurrent_rpcs: int | None = DEFAULT_MAX_CONCURRENT_RPCS,
    ) -> None:
        """``max_concurrent_rpcs`` bounds the calls in progress (None: unbounded, for tests
        only): a flooded service sheds calls rather than piling up memory and latency."""
        self._address = f"{host}:{port}"
        self._drain_seconds = drain_seconds
        self._grace_seconds = grace_seconds
        self._services: list[str] = []
        identity = current()
        self._health = _IdentifyingHealth(identity)
        self.server = grpc.aio.server(
            interceptors=[CallGuard()],
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # Two processes never share a port silently: only the workers of one supervisor,
                # which made sure the port was free before starting them (meshkit.supervisor).
                ("grpc.so_reuseport", 1 if identity.supervised else 0),
                # Clients reconnect every few minutes and so re-resolve DNS: replicas added by a
                # scale-out get their share of calls (dns:/// round robin over a headless Service).
                ("grpc.max_connection_age_ms", 5 * 60 * 1000),
                ("grpc.max_connection_age_grace_ms", 30 * 1000),
                # Clients ping every 30 s (meshkit.channels); a long quiet server stream (the
                # change feed's WatchEvents) must not count those as abuse and be cut.
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 20 * 1000),
            ],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.server)
        self.port = 0

    def add_service(self, full_name: str, register: Callable[[grpc.aio.Server], None]) -> None:
        """Registers a servicer, e.g. ``add_service(NAME, lambda s: add_X_to_server(impl, s))``."""
        register(self.server)
        self._services.append(full_name)

    async def start(self) -> int:
        """Binds, starts and reports SERVING; returns the bound port (useful with port 0)."""
        names = [*self._services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], self.server)
        try:
            self.port = self.server.add_insecure_port(self._address)
        except RuntimeError as error:  # grpc's "Failed to bind to address"
            raise PortTakenError(self._address) from error
        await self.server.start()
        for name in ["", *self._services]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("serving gRPC on %s", self._address.rsplit(":", 1)[0] + f":{self.port}")
        return self.port

    async def stop(self) -> None:
        """NOT_SERVING first, a pause for readiness probes to notice, then drain and stop."""
        await self._health.enter_graceful_shutdown()
        await asyncio.sleep(self._drain_seconds)
        await self.server.stop(self._grace_seconds)

    async def serve_until_signal(self) -> None:
        """Runs until SIGTERM or SIGINT, then stops gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("shutting down")
        await self.stop()
