"""Downstream failures become RFC 9457 problems with the google/rpc/code.proto status; never a
bare aiohttp 500 page, never a leaked message."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import INTERNAL_DETAIL, PROBLEM_CONTENT_TYPE
from gateway.state import CLIENTS
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import Unavailable
from tests.support.gateway_peers import ACME_SECRET, FakeMesh, GatewayFactory, unused_address

AUTH = {"Authorization": f"Bearer {ACME_SECRET}"}


async def _get_user(request: web.Request) -> web.Response:
    """A test route letting a downstream error propagate untouched."""
    await request.app[CLIENTS].directory.GetUser(
        directory_pb2.GetUserRequest(account_id="a", user_id="u")
    )
    return web.json_response({})


async def _update_account(request: web.Request) -> web.Response:
    await request.app[CLIENTS].directory.UpdateAccount(
        directory_pb2.UpdateAccountRequest(account_id="a", expected_version=3)
    )
    return web.json_response({})


async def _bug(request: web.Request) -> web.Response:
    raise KeyError("password=hunter2")


async def _echo_body(request: web.Request) -> web.Response:
    return web.json_response({"size": len(await request.read())})


def _test_routes(app: web.Application) -> None:
    app.router.add_get("/test/user", _get_user)
    app.router.add_get("/test/update", _update_account)
    app.router.add_get("/test/bug", _bug)
    app.router.add_post("/test/echo", _echo_body)


async def test_a_downstream_not_found_is_a_404_problem(gateway: GatewayFactory) -> None:
    """NOT_FOUND → 404 with the peer's message and field (RFC 9457 body)."""
    async with gateway(setup=_test_routes) as client:
        response = await client.get("/test/user")
        assert response.status == 404
        assert response.content_type == PROBLEM_CONTENT_TYPE
        body = await response.json()
        assert body["type"] == "about:blank"
        assert body["title"] == "Not Found"
        assert body["status"] == 404
        assert body["detail"] == "user not found"
        assert body["errors"] == [{"field": "user_id", "detail": "user not found"}]
        assert len(body["trace_id"]) == 32


async def test_a_version_mismatch_is_412(gateway: GatewayFactory) -> None:
    """Optimistic concurrency: FAILED_PRECONDITION reason version_mismatch → 412."""
    async with gateway(setup=_test_routes) as client:
        response = await client.get("/test/update")
        assert response.status == 412
        assert (await response.json())["title"] == "Precondition Failed"


async def test_an_unavailable_peer_is_503_with_retry_after(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """UNAVAILABLE (the peer's database is down) → 503, Retry-After: 1."""
    mesh.directory.fail = Unavailable("a dependency is unavailable, retry later")
    async with gateway() as client:
        response = await client.get("/api/v1/accounts/acme", headers=AUTH)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert response.content_type == PROBLEM_CONTENT_TYPE


async def test_an_unreachable_peer_is_503_without_its_address(gateway: GatewayFactory) -> None:
    """The transport's message names internal addresses: it stays in our logs."""
    down = unused_address()
    async with gateway(directory=down) as client:
        response = await client.get("/api/v1/accounts/acme", headers=AUTH)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        text = await response.text()
        assert down not in text
        assert "127.0.0.1" not in text


async def test_a_peer_crash_is_a_generic_500(gateway: GatewayFactory, mesh: FakeMesh) -> None:
    """INTERNAL → 500 with a fixed body: nothing of the peer's exception reaches the caller."""
    mesh.directory.fail = RuntimeError("password=hunter2 in a stack trace")
    async with gateway() as client:
        response = await client.get("/api/v1/accounts/acme", headers=AUTH)
        assert response.status == 500
        assert response.content_type == PROBLEM_CONTENT_TYPE
        body = await response.json()
        assert body["detail"] == INTERNAL_DETAIL
        assert "hunter2" not in await response.text()


async def test_a_slow_peer_is_504(gateway: GatewayFactory, mesh: FakeMesh) -> None:
    """DEADLINE_EXCEEDED → 504 Gateway Timeout."""

    async def _slow(request: web.Request) -> web.Response:
        await request.app[CLIENTS].directory.GetAccount(
            directory_pb2.GetAccountRequest(name="acme"), timeout=0.001
        )
        return web.json_response({})

    mesh.directory.delay_seconds = 0.2
    try:
        async with gateway(setup=lambda app: app.router.add_get("/test/slow", _slow)) as client:
            response = await client.get("/test/slow")
            assert response.status == 504
            assert response.content_type == PROBLEM_CONTENT_TYPE
    finally:
        mesh.directory.delay_seconds = 0


async def test_a_bug_in_a_gateway_handler_is_a_problem_not_an_aiohttp_page(
    gateway: GatewayFactory,
) -> None:
    """An unexpected exception in the gateway itself → 500 problem+json, no exception text."""
    async with gateway(setup=_test_routes) as client:
        response = await client.get("/test/bug")
        assert response.status == 500
        assert response.content_type == PROBLEM_CONTENT_TYPE
        assert "hunter2" not in await response.text()


async def test_unknown_paths_and_methods_answer_problems(gateway: GatewayFactory) -> None:
    """aiohttp's own 404 and 405 are rendered like every other error; 405 keeps Allow."""
    async with gateway() as client:
        missing = await client.get("/no/such/path?token=secret")
        assert missing.status == 404
        assert missing.content_type == PROBLEM_CONTENT_TYPE
        assert "secret" not in await missing.text()
        wrong_method = await client.delete("/healthz")
        assert wrong_method.status == 405
        assert wrong_method.content_type == PROBLEM_CONTENT_TYPE
        assert "GET" in wrong_method.headers["Allow"]


async def test_a_body_over_one_mebibyte_is_413(gateway: GatewayFactory) -> None:
    """client_max_size is 1 MiB (SCIM advertises it as maxPayloadSize)."""
    async with gateway(setup=_test_routes) as client:
        fits = await client.post("/test/echo", data=b"x" * (1024 * 1024))
        assert (await fits.json()) == {"size": 1024 * 1024}
        too_big = await client.post("/test/echo", data=b"x" * (1024 * 1024 + 1))
        assert too_big.status == 413
        assert too_big.content_type == PROBLEM_CONTENT_TYPE
