"""Kubernetes probes: ``/healthz`` (the process is alive) and ``/readyz`` (it can serve).

Liveness never looks at peers: a restart of the gateway would not bring a peer back. Readiness
asks every peer's standard gRPC health service, concurrently and with a short deadline, so a
gateway whose peers are down is taken out of the load balancer instead of answering 503s. While
the gateway shuts down, readiness fails first so no new work is routed to it.

Both name the worker that answered (``Idmesh-Worker: 1/4``, meshkit.workers): a launcher that
waits until every worker of the gateway is ready opens a new connection per probe until it has
heard from each.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.state import CLIENTS, STOPPING
from meshkit.channels import is_serving
from meshkit.workers import current

READINESS_DEADLINE_SECONDS = 1.0
WORKER_HEADER = "Idmesh-Worker"


def _worker() -> dict[str, str]:
    identity = current()
    return {WORKER_HEADER: f"{identity.index}/{identity.count}"}


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok"}`` whenever the event loop answers."""
    return web.json_response({"status": "ok"}, headers=_worker())


async def readyz(request: web.Request) -> web.Response:
    """200 when every peer reports SERVING for its service, else 503 naming each peer and its
    state, e.g. ``{"status": "unavailable", "peers": {"auth": "not serving", ...}}``."""
    if request.app[STOPPING].is_set():
        return web.json_response({"status": "stopping"}, status=503, headers=_worker())
    peers = request.app[CLIENTS].peers
    names = list(peers)
    results = await asyncio.gather(
        *(
            is_serving(peers[name].channel, peers[name].service, READINESS_DEADLINE_SECONDS)
            for name in names
        )
    )
    states = {
        name: "serving" if ok else "not serving" for name, ok in zip(names, results, strict=True)
    }
    ready = all(results)
    return web.json_response(
        {"status": "ok" if ready else "unavailable", "peers": states},
        status=200 if ready else 503,
        headers=_worker(),
    )


def add_health_routes(app: web.Application) -> None:
    """Registers both probes (``app`` holds CLIENTS and STOPPING, see gateway.state)."""
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
