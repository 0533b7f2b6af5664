"""gateway.overload through the front door: the in-flight cap and the request deadline. The
issue's requirement: "bounded queues and request deadlines everywhere so that overload sheds
load instead of piling up memory". Handlers are driven directly (no sockets); the only waiting
is on events the test sets, and the one deadline is far shorter than anything else the test
waits for."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.access_log import AccessLog
from gateway.errors import use_error_renderer
from gateway.front_door import front_door_middleware
from gateway.overload import InFlightLimit
from gateway.scim import render_scim_error


def _request(path: str, app: web.Application | None = None) -> web.Request:
    return make_mocked_request("GET", path, app=app or web.Application())


def test_the_limit_gives_out_slots_up_to_its_bound_and_takes_them_back() -> None:
    limit = InFlightLimit(2)
    assert limit.try_enter()
    assert limit.try_enter()
    assert not limit.try_enter()
    limit.leave()
    assert limit.try_enter()


async def test_requests_beyond_the_cap_are_answered_503_at_once_with_retry_after() -> None:
    """RFC 9110 §15.6.4 503 with §10.2.3 Retry-After, immediately: nothing queues behind a
    full gateway, and a slot freed serves the next request."""
    limit = InFlightLimit(2)
    middleware = front_door_middleware(limit, 60.0, AccessLog(0.0))
    release, both_inside = asyncio.Event(), asyncio.Event()
    inside = 0

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal inside
        inside += 1
        if inside == 2:
            both_inside.set()
        await release.wait()
        return web.Response(text="done")

    async def call() -> web.StreamResponse:
        return await middleware(_request("/api/v1/users"), slow)

    held = [asyncio.create_task(call()) for _ in range(2)]
    await both_inside.wait()
    shed = await middleware(_request("/api/v1/users"), slow)
    assert shed.status == 503
    assert shed.headers["Retry-After"] == "1"
    assert json.loads(shed.body)["status"] == 503  # type: ignore[attr-defined]
    release.set()
    assert [response.status for response in await asyncio.gather(*held)] == [200, 200]
    assert limit.current == 0
    assert (await call()).status == 200


async def test_a_shed_scim_request_gets_a_scim_error_body() -> None:
    """Under /scim/v2 the answer is an RFC 7644 §3.12 error, as SCIM clients parse."""
    app = web.Application()
    use_error_renderer(app, render_scim_error, prefix="/scim/v2")
    limit = InFlightLimit(1)
    assert limit.try_enter()
    shed = await front_door_middleware(limit, 60.0, AccessLog(0.0))(
        _request("/scim/v2/Users", app), _never
    )
    assert shed.status == 503
    body = json.loads(shed.body)  # type: ignore[attr-defined]
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "503"


async def test_probes_are_never_shed() -> None:
    """A busy gateway is still alive: Kubernetes must not restart it for being loaded."""
    limit = InFlightLimit(1)
    assert limit.try_enter()

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    middleware = front_door_middleware(limit, 60.0, AccessLog(0.0))
    assert (await middleware(_request("/healthz"), ok)).status == 200
    assert (await middleware(_request("/readyz"), ok)).status == 200


async def test_a_request_past_its_deadline_is_cancelled_and_answered_504() -> None:
    """Every request has a deadline: the handler is cancelled (its downstream calls with it)
    and its slot is given back."""
    limit = InFlightLimit(1)
    cancelled = asyncio.Event()

    async def stuck(request: web.Request) -> web.StreamResponse:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    late = await front_door_middleware(limit, 0.01, AccessLog(0.0))(
        _request("/api/v1/users"), stuck
    )
    assert late.status == 504
    assert cancelled.is_set()
    assert limit.current == 0


async def test_a_timeout_raised_by_the_handler_itself_is_not_taken_for_the_deadline() -> None:
    async def failing(request: web.Request) -> web.StreamResponse:
        raise TimeoutError

    limit = InFlightLimit(1)
    with pytest.raises(TimeoutError):
        await front_door_middleware(limit, 60.0, AccessLog(0.0))(_request("/api/v1/users"), failing)
    assert limit.current == 0


async def _never(request: web.Request) -> web.StreamResponse:
    raise AssertionError("a shed request must not reach its handler")
