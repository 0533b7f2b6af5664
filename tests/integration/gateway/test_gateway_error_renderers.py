"""Route groups plug in their own error body (SCIM answers RFC 7644 §3.12 bodies) while the
classification of failures stays in one place."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import PROBLEM_CONTENT_TYPE, Problem, use_error_renderer
from meshkit.errors import InvalidArgument
from tests.support.gateway_peers import GatewayFactory


def _scim_like(request: web.Request, problem: Problem) -> web.StreamResponse:
    response = web.json_response(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(problem.status),
            "detail": problem.detail,
        },
        status=problem.status,
        content_type="application/scim+json",
    )
    response.headers.update(problem.headers)
    return response


async def _invalid(request: web.Request) -> web.Response:
    raise InvalidArgument("bad filter", field="filter", reason="invalid_filter")


def _with_sub_app(app: web.Application) -> None:
    scim = web.Application()
    use_error_renderer(scim, _scim_like)
    scim.router.add_get("/Users", _invalid)
    app.add_subapp("/subapp/v2", scim)


def _with_prefix(app: web.Application) -> None:
    use_error_renderer(app, _scim_like, prefix="/legacy/scim/")
    app.router.add_get("/legacy/scim/Users", _invalid)
    app.router.add_get("/legacy/scimmer", _invalid)


async def test_a_sub_application_renders_its_own_errors(gateway: GatewayFactory) -> None:
    """A sub-application answers its own body format, 404s under it included."""
    async with gateway(setup=_with_sub_app) as client:
        response = await client.get("/subapp/v2/Users")
        assert response.status == 400
        assert response.content_type == "application/scim+json"
        assert (await response.json())["detail"] == "bad filter"
        # Unknown paths under the sub-application are its errors too.
        missing = await client.get("/subapp/v2/Nothing")
        assert missing.status == 404
        assert missing.content_type == "application/scim+json"
        # The request id is still echoed: the outer middlewares wrap the sub-application.
        assert missing.headers["X-Request-ID"]


async def test_a_path_prefix_renders_its_own_errors(gateway: GatewayFactory) -> None:
    """A prefix covers the path itself and the paths under it, not its look-alikes."""
    async with gateway(setup=_with_prefix) as client:
        scim = await client.get("/legacy/scim/Users")
        assert scim.content_type == "application/scim+json"
        other = await client.get("/legacy/scimmer")
        assert other.content_type == PROBLEM_CONTENT_TYPE
        elsewhere = await client.get("/nowhere")
        assert elsewhere.content_type == PROBLEM_CONTENT_TYPE
