"""A user's sessions on the console's user page (issue 16, "sessions an admin can see and end"):
how each began, and the admin ending one, then every one; the platform's ValidateSession
refuses an ended session at once (auth reads the session row on every validation)."""

from __future__ import annotations

import aiohttp
import grpc
import pytest

from idmesh.auth.v1 import auth_pb2
from tests.integration.gateway.admin.conftest import PASSWORD, Admin, make_admin, sign_in
from tests.integration.gateway.admin.test_admin_pages import csrf_token


async def _valid(admin: Admin, secret: str) -> bool:
    try:
        await admin.tenant.stack.auth.ValidateSession(
            auth_pb2.ValidateSessionRequest(session_secret=secret)
        )
    except grpc.aio.AioRpcError:
        return False
    return True


async def test_an_admin_ends_one_session_then_every_session_of_a_user_from_the_user_page(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    await sign_in(browser, admin)
    member = await make_admin(admin.tenant, "Account Member")
    secrets = []
    for _ in range(2):
        opened = await admin.tenant.stack.auth.VerifyLocalPassword(
            auth_pb2.VerifyLocalPasswordRequest(
                account_id=admin.tenant.id, email=member.email, password=PASSWORD,
                open_session=True,
            )
        )  # fmt: skip
        secrets.append((opened.session.id, opened.session_secret))
    page = f"/admin/users/{member.user.id}"
    token = await csrf_token(browser, page)
    html = await (await browser.get(page)).text()
    assert html.count("/sessions/") >= 2
    (first_id, first), (_, second) = secrets
    ended = await browser.post(
        f"{page}/sessions/{first_id}/end", data={"csrf_token": token}, allow_redirects=False
    )
    assert ended.status in (302, 303), await ended.text()
    assert (await _valid(admin, first), await _valid(admin, second)) == (False, True)
    everything = await browser.post(
        f"{page}/sessions/end", data={"csrf_token": token}, allow_redirects=False
    )
    assert everything.status in (302, 303)
    assert await _valid(admin, second) is False
    assert (
        "Every session of the user was ended."
        in await (await browser.get(everything.headers["Location"])).text()
    )


@pytest.mark.parametrize(
    "path", ["/sessions/end", "/sessions/00000000-0000-4000-8000-000000000000/end"]
)
async def test_ending_sessions_needs_the_forms_csrf_token(
    browser: aiohttp.ClientSession, admin: Admin, path: str
) -> None:
    await sign_in(browser, admin)
    refused = await browser.post(f"/admin/users/{admin.user.id}{path}", data={})
    assert refused.status == 403
