"""/healthz and /readyz: liveness never looks at peers, readiness asks each one."""

from __future__ import annotations

from gateway.state import STOPPING
from tests.support.gateway_peers import GatewayFactory, unused_address


async def test_healthz_answers_ok_even_when_every_peer_is_down(gateway: GatewayFactory) -> None:
    """Liveness: restarting the gateway would not bring a peer back."""
    down = unused_address()
    async with gateway(directory=down, auth=down, scim=down) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_readyz_is_ok_when_every_peer_is_serving(gateway: GatewayFactory) -> None:
    """Readiness: each peer's standard gRPC health check reports SERVING for its service."""
    async with gateway() as client:
        response = await client.get("/readyz")
        assert response.status == 200
        assert await response.json() == {
            "status": "ok",
            "peers": {"directory": "serving", "auth": "serving", "scim": "serving"},
        }


async def test_readyz_is_503_naming_the_peer_that_is_down(gateway: GatewayFactory) -> None:
    """A gateway that cannot reach auth is taken out of the load balancer, and says why."""
    async with gateway(auth=unused_address()) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "unavailable"
        assert body["peers"] == {
            "directory": "serving",
            "auth": "not serving",
            "scim": "serving",
        }


async def test_readyz_fails_once_shutdown_begins(gateway: GatewayFactory) -> None:
    """Graceful shutdown: readiness turns 503 first so no new work is routed here."""
    async with gateway() as client:
        client.app[STOPPING].set()
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["status"] == "stopping"
        assert (await client.get("/healthz")).status == 200
