"""The wizard's "Test sign-in": a real login at the IdP, through the one login pipeline, that
writes nothing (auth's test sign-in: directory's ProvisionLogin as a dry run, no session).

The button starts a test sign-in of the link's connection, enabled or not; the IdP answers the
usual callback, and the gateway brings the browser back here with the test's trace id. The page
shows the claims or assertion attributes as idmesh received them, who the login would be (a new
user, an existing one linked, or refused and why), the spaces and roles the six rules give, the
groups added and removed, the timezone, and what to change in the IdP when something is missing.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web
from google.protobuf import json_format

from gateway.pages.html import redirect
from gateway.setup.session import Setup, setup_view
from gateway.setup.state import link_connection
from gateway.sso import cookies
from gateway.sso.routes import START_DEADLINE_SECONDS
from gateway.sso.saml import SAML_COOKIE, set_binding
from gateway.state import CONFIG
from idmesh.auth.v1 import auth_pb2

RETURN_TO: Final = "/setup/test"
OUTCOMES: Final = {
    "new_user": "idmesh would create a new user",
    "link_existing_user": "idmesh would link this identity to the existing user",
    "already_linked_user": "idmesh would sign in the user this identity is linked to",
    "refused": "idmesh would refuse this sign-in",
}


async def _tested(
    setup: Setup, connection: auth_pb2.Connection, trace_id: str
) -> dict[str, Any] | None:
    """The test's trace, read back by its id among the connection's newest traces. Without an
    id, the newest attempt when it failed before idmesh knew it for a test (a bad signature, a
    wrong client secret: the IdP's answer was refused, and the browser saw the error page) on a
    connection not yet enabled, where every attempt is the IT admin's."""
    listed = await setup.clients.auth.ListLoginTraces(
        auth_pb2.ListLoginTracesRequest(
            account_id=setup.account_id, connection_id=connection.id, page_size=50
        )
    )
    if trace_id:
        trace = next((t for t in listed.traces if t.trace_id == trace_id), None)
    else:
        newest = listed.traces[0] if listed.traces else None
        failed = newest is not None and not newest.test and not connection.enabled
        trace = newest if failed else None
    if trace is None:
        return None
    result = json_format.MessageToDict(trace.test_result) if trace.test else {}
    claims = json_format.MessageToDict(trace.claims)
    return {
        "trace": trace,
        "is_test": trace.test,
        # MessageToDict leaves out empty lists and strings: every field the page reads is here.
        "result": {**_EMPTY_RESULT, **result},
        "headline": OUTCOMES.get(result.get("outcome", ""), "The sign-in did not complete"),
        "claims": sorted((name, _shown(value)) for name, value in claims.items()),
    }


_EMPTY_RESULT: Final[dict[str, Any]] = {
    "outcome": "", "reason": "", "detail": "", "email": "", "user_name": "",
    "profile_applied": False, "spaces": [], "ignored_spaces": [], "unknown_roles": [],
    "timezone": "", "groups_added": [], "groups_removed": [], "groups_unmatched": [], "fixes": [],
}  # fmt: skip


def _shown(value: Any) -> str:
    """A claim as the IdP sent it (JSON spelling: true, 1700000000), not as Python prints it."""
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


@setup_view("sso")
async def test_page(setup: Setup) -> web.StreamResponse:
    connection = await link_connection(setup)
    tested = None
    if connection is not None:
        tested = await _tested(setup, connection, setup.request.query.get("trace", "")[:64])
    return setup.page(
        "setup/test.html", "test", "Test sign-in", connection=connection, tested=tested,
        saml=connection is not None and connection.WhichOneof("protocol") == "saml",
    )  # fmt: skip


@setup_view("sso")
async def start_test(setup: Setup) -> web.StreamResponse:
    """Starts the test sign-in at the IdP; nothing the login does will be kept."""
    connection = await link_connection(setup)
    if connection is None:
        return redirect("/setup/sso")
    request, auth = setup.request, setup.clients.auth
    await setup.audit("setup_link.test_sign_in", "connection", connection.id)
    if connection.WhichOneof("protocol") == "saml":
        saml = await auth.StartSamlLogin(
            auth_pb2.StartSamlLoginRequest(
                connection_id=connection.id, return_to=RETURN_TO,
                browser_binding=request.cookies.get(SAML_COOKIE, "")[:64],
                test_account_id=setup.account_id,
            ),
            timeout=START_DEADLINE_SECONDS,
        )  # fmt: skip
        response = redirect(saml.redirect_url)
        set_binding(response, saml.browser_binding, request.app[CONFIG])
        return response
    oidc = await auth.StartOidcLogin(
        auth_pb2.StartOidcLoginRequest(
            connection_id=connection.id,
            redirect_uri=f"{setup.public_url}/sso/oidc/{connection.id}/callback",
            login_hint=setup.text("login_hint")[:320], return_to=RETURN_TO,
            browser_binding=cookies.login_binding(request), test_account_id=setup.account_id,
        ),
        timeout=START_DEADLINE_SECONDS,
    )  # fmt: skip
    response = redirect(oidc.authorization_url)
    cookies.set_login(response, oidc.browser_binding, request.app[CONFIG])
    return response
