"""The production gateway application (create_app) against fake peers: the per-account SCIM
rate limit and the in-flight cap, wired as they run. The issue's requirement: "per-account rate
limits on SCIM ... answering 429 with Retry-After; bounded queues and request deadlines
everywhere so that overload sheds load instead of piling up memory". The rate limiter's clock is
frozen and moved by the test, and the busy handler waits on an event: nothing depends on the
machine's speed."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.clients import Clients
from gateway.config import load_gateway_config
from gateway.ratelimit import LocalRateLimit
from gateway.scim import SCIM_RATE_LIMIT
from tests.support.gateway_peers import (
    ACME_SECRET,
    GLOBEX_SECRET,
    FakeMesh,
    GatewayClient,
    GatewayFactory,
)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _list_users(client: GatewayClient, secret: str) -> tuple[int, str | None, object]:
    response = await client.get("/scim/v2/Users", headers=_bearer(secret))
    return (
        response.status,
        response.headers.get("Retry-After"),
        await response.json(content_type=None),
    )


async def test_an_account_past_its_scim_limit_gets_429_and_others_do_not(
    gateway: GatewayFactory,
) -> None:
    """RFC 6585 §4 429 with RFC 9110 §10.2.3 Retry-After and an RFC 7644 §3.12 error body; the
    other account is served meanwhile, and the first one again once Retry-After has passed."""
    clock = Clock()

    def small_limit(app: web.Application) -> None:
        app[SCIM_RATE_LIMIT] = LocalRateLimit.of(rate=0.5, burst=2, clock=clock)

    async with gateway(setup=small_limit, token_cache_ttl="5s") as client:
        assert [(await _list_users(client, ACME_SECRET))[0] for _ in range(2)] == [200, 200]
        status, retry_after, body = await _list_users(client, ACME_SECRET)
        assert status == 429
        assert retry_after == "2"
        assert isinstance(body, dict)
        detail, _, trace = str(body.pop("detail")).partition(" (trace_id ")
        assert len(trace) == 33, "every error body names its trace"
        assert body == {"schemas": [ERROR_SCHEMA], "status": "429"}
        assert detail == (
            "Too many SCIM requests for this account: the limit is 0.5 a second, in "
            "bursts of up to 2. Retry after the number of seconds in Retry-After."
        )
        assert (await _list_users(client, GLOBEX_SECRET))[0] == 200
        clock.now += int(retry_after)
        assert (await _list_users(client, ACME_SECRET))[0] == 200


async def test_a_full_gateway_answers_503_at_once_and_keeps_its_probes(
    mesh: FakeMesh,
) -> None:
    """Beyond MAX_IN_FLIGHT_REQUESTS a request is answered 503 with Retry-After at once
    (RFC 9110 §15.6.4) instead of queueing; SCIM clients get a SCIM error; /healthz answers."""
    config = load_gateway_config({"PORT": "0", "MAX_IN_FLIGHT_REQUESTS": "1"})
    clients = Clients.connect(
        directory_addr=mesh.addresses["directory"],
        auth_addr=mesh.addresses["auth"],
        scim_addr=mesh.addresses["scim"],
    )
    entered, release = asyncio.Event(), asyncio.Event()

    async def busy(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.Response(text="done")

    app = create_app(config, clients)
    app.router.add_get("/test/busy", busy)
    server = TestServer(app, host="127.0.0.1", port=0)
    try:
        await server.start_server(access_log=None)
        async with TestClient(server) as client:
            held = asyncio.ensure_future(client.get("/test/busy"))
            await entered.wait()
            shed = await client.get("/scim/v2/Users", headers=_bearer(ACME_SECRET))
            assert shed.status == 503
            assert shed.headers["Retry-After"] == "1"
            body = await shed.json(content_type=None)
            assert body["schemas"] == [ERROR_SCHEMA]
            assert body["status"] == "503"
            assert (await client.get("/healthz")).status == 200
            release.set()
            assert (await held).status == 200
            response = await client.get("/scim/v2/Users", headers=_bearer(ACME_SECRET))
            assert response.status == 200
    finally:
        await server.close()
        await clients.close()
