"""Opening a setup link, and the wizard's first page.

``GET /setup/<secret>``: auth opens the link for this browser (or recognises the browser that
already did) and the browser gets the setup cookie; then the wizard. The URL's secret is never
shown again, and the page it lands on has no secret in its address.
"""

from __future__ import annotations

import grpc
from aiohttp import web

from gateway import setup_audit
from gateway.pages.html import redirect
from gateway.setup.session import (
    Setup,
    ended_page,
    session_secret,
    set_session_cookie,
    setup_view,
)
from gateway.setup.state import wizard_state
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import from_rpc_error


async def open_link(request: web.Request) -> web.StreamResponse:
    current = session_secret(request)
    try:
        opened = await request.app[CLIENTS].auth.OpenSetupLink(
            auth_pb2.OpenSetupLinkRequest(
                secret=request.match_info["secret"], session_secret=current
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
            return ended_page(request, from_rpc_error(error).reason)
        raise
    if opened.session_secret != current:
        link = opened.link
        await setup_audit.record(
            request.app[CLIENTS].directory, link.account_id, setup_audit.link_actor(link.id),
            "setup_link.opened", "setup_link", link.id,
        )  # fmt: skip
    response = redirect("/setup")
    set_session_cookie(response, request, opened.session_secret)
    return response


@setup_view()
async def home(setup: Setup) -> web.StreamResponse:
    state = await wizard_state(setup)
    return setup.page("setup/home.html", "", f"Connect {state.account_name} to idmesh", state=state)
