"""The gateway in-process against fake peers (tests.support.gateway_peers: real meshkit
GrpcServers on 127.0.0.1:0 with small fake servicers), with aiohttp's TestServer/TestClient in
front of the production ``create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from gateway.clients import Clients
from gateway.config import load_gateway_config
from meshkit.telemetry import setup_tracing
from tests.support.gateway_peers import FakeMesh, GatewayClient, GatewayFactory


@pytest.fixture(scope="module")
async def mesh() -> AsyncIterator[FakeMesh]:
    fake = FakeMesh()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(autouse=True)
def _healthy_directory(mesh: FakeMesh) -> None:
    """Each test starts with a directory that answers normally."""
    mesh.directory.fail = None


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span finished in this process, kept in memory. Tracing is installed once per
    process: when another suite installed it first, our processor joins its provider."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider = setup_tracing("gateway-tests", processor=processor)
    with provider.get_tracer("probe").start_as_current_span("probe"):
        pass
    if not exporter.get_finished_spans():
        provider.add_span_processor(processor)
    exporter.clear()
    return exporter


@pytest.fixture
def gateway(mesh: FakeMesh, spans: InMemorySpanExporter) -> GatewayFactory:
    """``async with gateway(setup=fn, token_cache_ttl="5s", auth="host:port") as client``: the
    production app on the fake mesh; ``setup(app)`` may add test routes before it starts; a
    peer's address may be overridden (e.g. with tests.support.gateway_peers.unused_address()
    for a peer that is down)."""

    @asynccontextmanager
    async def start(
        setup: Callable[[web.Application], object] | None = None,
        token_cache_ttl: str = "0",
        **addresses: str,
    ) -> AsyncIterator[GatewayClient]:
        merged = {**mesh.addresses, **addresses}
        clients = Clients.connect(
            directory_addr=merged["directory"], auth_addr=merged["auth"], scim_addr=merged["scim"]
        )
        # Token caching off unless a test asks: most tests change what auth answers.
        # Every access line written: the tests read them (production samples successes).
        config = load_gateway_config(
            {"PORT": "0", "TOKEN_CACHE_TTL": token_cache_ttl, "ACCESS_LOG_SAMPLE": "1"}
        )
        app = create_app(config, clients)
        if setup is not None:
            setup(app)
        server = TestServer(app, host="127.0.0.1", port=0)
        try:
            # As gateway.server runs it: aiohttp's own access log off (TestServer's constructor
            # ignores runner options; start_server passes them on).
            await server.start_server(access_log=None)
            async with TestClient(server) as client:
                yield client
        finally:
            await server.close()
            await clients.close()

    return start
