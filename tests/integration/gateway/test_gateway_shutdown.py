"""Graceful stop (gateway.server): readiness fails first, in-flight requests finish, then the
socket is closed."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.clients import Clients
from gateway.config import load_gateway_config
from gateway.server import HttpServer
from tests.support.gateway_peers import FakeMesh


async def test_stop_lets_in_flight_requests_finish_and_fails_readiness_first(
    mesh: FakeMesh,
) -> None:
    """SIGTERM handling (gateway.server): readiness 503 during the drain pause, in-flight
    requests complete, then the socket closes."""
    clients = Clients.connect(
        directory_addr=mesh.addresses["directory"],
        auth_addr=mesh.addresses["auth"],
        scim_addr=mesh.addresses["scim"],
    )
    app = create_app(load_gateway_config({"PORT": "0"}), clients)
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)
        return web.json_response({"done": True})

    app.router.add_get("/test/slow", slow)
    server = HttpServer(app, "127.0.0.1", 0, drain_seconds=0.3, grace_seconds=5)
    port = await server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            assert (await session.get(f"{base}/readyz")).status == 200
            in_flight = asyncio.create_task(session.get(f"{base}/test/slow"))
            await started.wait()
            stopping = asyncio.create_task(server.stop())
            await asyncio.sleep(0.1)
            # During the drain pause the socket still accepts, and readiness says no.
            async with aiohttp.ClientSession() as fresh:
                assert (await fresh.get(f"{base}/readyz")).status == 503
            response = await in_flight
            assert response.status == 200
            assert await response.json() == {"done": True}
            await stopping
        async with aiohttp.ClientSession() as after:
            with pytest.raises(aiohttp.ClientConnectionError):
                await after.get(f"{base}/healthz")
    finally:
        await clients.close()
