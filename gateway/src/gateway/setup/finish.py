"""The wizard's end: what was configured, and "Finish", which turns the connection on.

Until then the connection the wizard made is disabled and the account's users sign in the old
way. Finishing enables it (serving the account's domains), uses the link up, and records what
was configured in the audit log, where the account admin's console shows it.
"""

from __future__ import annotations

from aiohttp import web

from gateway.pages.templates import render
from gateway.setup.connect import served_domains
from gateway.setup.session import SETUP_COOKIE, SETUP_COOKIE_PATH, Setup, setup_view
from gateway.setup.state import wizard_state
from idmesh.auth.v1 import auth_pb2


@setup_view()
async def finish_page(setup: Setup) -> web.StreamResponse:
    state = await wizard_state(setup)
    unverified = [d.domain for d in state.domains if d.domain not in state.verified_domains]
    return setup.page(
        "setup/finish.html", "finish", "Finish", state=state, unverified=unverified,
        missing_connection=setup.link.sso and state.connection is None,
    )  # fmt: skip


@setup_view()
async def finish(setup: Setup) -> web.StreamResponse:
    state = await wizard_state(setup)
    connection = state.connection
    domains: list[str] = []
    if connection is not None:
        domains = await served_domains(setup, connection.id)
        await setup.clients.auth.UpdateConnection(
            auth_pb2.UpdateConnectionRequest(
                account_id=setup.account_id, connection_id=connection.id,
                display_name=connection.display_name, domains=domains, enabled=True,
                provisioning_policy=connection.provisioning_policy,
                default_space=connection.default_space,
                default_space_role=connection.default_space_role,
                expected_version=connection.version,
            )
        )  # fmt: skip
        await setup.audit("setup_link.connection_enabled", "connection", connection.id,
                          domains=domains)  # fmt: skip
    await setup.clients.auth.UpdateSetupLink(
        auth_pb2.UpdateSetupLinkRequest(
            account_id=setup.account_id, link_id=setup.link.id, finish=True
        )
    )
    await setup.audit(
        "setup_link.finished", "setup_link", setup.link.id,
        connection_id=connection.id if connection else "", domains=domains,
        verified_domains=state.verified_domains, scim_token_id=setup.link.scim_token_id,
    )  # fmt: skip
    context = {"title": "All set", "account_name": state.account_name, "domains": domains,
               "connection": connection, "scim": bool(setup.link.scim_token_id)}  # fmt: skip
    response = render(setup.request, "setup/done.html", context)
    response.del_cookie(SETUP_COOKIE, path=SETUP_COOKIE_PATH)
    return response
