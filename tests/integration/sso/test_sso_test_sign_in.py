"""A test sign-in (the setup wizard's dry run) through the real gateway, auth and directory: the
one login pipeline with the same connector, directory's ProvisionLogin run and rolled back. It
shows what the login would do — the identity outcome, the six rules' spaces and roles, the groups
added and removed, the timezone — and, where the IdP sends too little, the setting to change in
the IdP's own console words; it writes nothing, opens no session, and leaves a test trace."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from google.protobuf import json_format
from yarl import URL

from gateway.sso.cookies import LOGIN_COOKIE
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import Tenant, browser, create_space
from tests.support.directory import ADMIN, Stub

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

TenantFactory = Callable[..., Any]
RETURN_TO = "/setup/test"

# Everything a sign-in may write, per account.
_WRITES = """
SELECT (SELECT count(*) FROM directory.users WHERE account_id = $1) AS users,
    (SELECT coalesce(sum(version), 0) FROM directory.users WHERE account_id = $1) AS versions,
    (SELECT count(*) FROM directory.identity_links WHERE account_id = $1) AS links,
    (SELECT count(*) FROM directory.space_memberships WHERE account_id = $1) AS grants,
    (SELECT count(*) FROM directory.group_members WHERE account_id = $1) AS members,
    (SELECT count(*) FROM directory.audit_events WHERE account_id = $1) AS events,
    (SELECT count(*) FROM auth.sessions WHERE account_id = $1) AS sessions
"""


async def _writes(pool: asyncpg.Pool, account_id: str) -> dict[str, int]:
    row = await pool.fetchrow(_WRITES, uuid.UUID(account_id))
    assert row is not None
    return dict(row)


async def _test_sign_in(
    gateway_url: str, auth: AuthServiceAsyncStub, made: Tenant, login: str
) -> tuple[int, str]:
    """Starts a test sign-in as the wizard does, lets the IdP answer, follows the callback;
    returns its status and Location."""
    started = await auth.StartOidcLogin(
        auth_pb2.StartOidcLoginRequest(
            connection_id=made.connection_id,
            redirect_uri=f"{gateway_url}/sso/oidc/{made.connection_id}/callback",
            login_hint=login,
            return_to=RETURN_TO,
            test_account_id=made.account_id,
        )
    )
    client = browser()
    try:
        client.cookie_jar.update_cookies(
            {LOGIN_COOKIE: started.browser_binding}, URL(f"{gateway_url}/sso/")
        )
        async with client.get(started.authorization_url, allow_redirects=False) as idp_answer:
            callback = idp_answer.headers["Location"]
        async with client.get(callback, allow_redirects=False) as response:
            assert "idmesh_session" not in response.cookies
            return response.status, response.headers.get("Location", "")
    finally:
        await client.close()


async def _result(
    auth: AuthServiceAsyncStub, made: Tenant, location: str
) -> tuple[auth_pb2.LoginTrace, dict[str, Any]]:
    trace_id = URL(location).query["trace"]
    listed = await auth.ListLoginTraces(
        auth_pb2.ListLoginTracesRequest(account_id=made.account_id, page_size=1)
    )
    (trace,) = listed.traces
    assert trace.trace_id == trace_id
    assert trace.test
    return trace, json_format.MessageToDict(trace.test_result)


@pytest.fixture
async def disabled_tenant(
    tenant: TenantFactory, directory: Stub, auth: AuthServiceAsyncStub
) -> Tenant:
    """An account whose connection is being set up (not enabled), with a DevOps space and a
    group the IdP's "devs" group maps to."""
    made: Tenant = await tenant()
    await auth.UpdateConnection(
        auth_pb2.UpdateConnectionRequest(
            account_id=made.account_id,
            connection_id=made.connection_id,
            enabled=False,
            display_name=made.connection.display_name,
            domains=made.connection.domains,
            provisioning_policy=made.connection.provisioning_policy,
        )
    )
    await create_space(directory, made.account_id, "DevOps")
    await directory.CreateGroup(
        directory_pb2.CreateGroupRequest(
            group=directory_pb2.Group(
                account_id=made.account_id, display_name="Developers", idp_identifier="devs"
            ),
            actor=ADMIN,
        )
    )
    return made


async def test_a_test_sign_in_shows_what_the_login_would_do_and_writes_nothing(
    gateway_url: str, auth: AuthServiceAsyncStub, idp: FakeIdp, pool: asyncpg.Pool,
    disabled_tenant: Tenant,
) -> None:  # fmt: skip
    """New user, DevOps as Space Developer (rule 1), the devs group joined, the timezone — and
    not a row written: no user, no link, no grant, no membership, no audit event, no session."""
    made = disabled_tenant
    idp.users["ada"] = {
        "subject": "ada", "email": f"ada@{made.domain}", "space_name": "DevOps",
        "space_role": "Space Developer", "timezone": "Europe/London", "groups": ["devs"],
    }  # fmt: skip
    before = await _writes(pool, made.account_id)
    status, location = await _test_sign_in(gateway_url, auth, made, "ada")
    assert status == 303
    assert location.startswith(RETURN_TO + "?trace=")
    assert await _writes(pool, made.account_id) == before
    trace, result = await _result(auth, made, location)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert trace.claims["space_name"] == "DevOps"
    assert result["outcome"] == "new_user"
    assert result["spaces"] == [{"space": "DevOps", "role": "Space Developer"}]
    assert result["groups_added"] == ["devs"]
    assert result["timezone"] == "Europe/London"
    assert result["fixes"] == []


async def test_a_real_sign_in_on_a_connection_not_yet_enabled_is_refused(
    gateway_url: str, auth: AuthServiceAsyncStub, disabled_tenant: Tenant
) -> None:
    """Until the wizard's Finish, the account's users sign in the old way: the connection
    starts no ordinary login (only a test sign-in of its own account)."""
    made = disabled_tenant
    client = browser()
    try:
        async with client.get(
            f"{gateway_url}/sso/oidc/{made.connection_id}/start", allow_redirects=False
        ) as response:
            assert response.status == 404
    finally:
        await client.close()


async def test_missing_groups_and_an_unknown_role_name_the_okta_settings_to_change(
    gateway_url: str, auth: AuthServiceAsyncStub, idp: FakeIdp, pool: asyncpg.Pool,
    disabled_tenant: Tenant,
) -> None:  # fmt: skip
    """No groups claim: Okta's "Groups claim filter" on the app's Sign On tab; a space_role
    that is no role of the account (Torque rule 3: Space Member given): the user's attribute."""
    made = disabled_tenant
    idp.users["bob"] = {"subject": "bob", "email": f"bob@{made.domain}",
                        "space_name": "DevOps", "space_role": "Wizard"}  # fmt: skip
    before = await _writes(pool, made.account_id)
    _, location = await _test_sign_in(gateway_url, auth, made, "bob")
    assert await _writes(pool, made.account_id) == before
    _, result = await _result(auth, made, location)
    assert result["spaces"] == [{"space": "DevOps", "role": "Space Member"}]
    assert result["unknown_roles"] == ["Wizard"]
    problems = {fix["problem"]: fix["setting"] for fix in result["fixes"]}
    groups = next(s for p, s in problems.items() if p.startswith("No groups claim"))
    assert "Okta Admin Console" in groups
    assert "Groups claim filter" in groups
    role = next(s for p, s in problems.items() if '"Wizard"' in p)
    assert "Profile Editor" in role or "Directory → People" in role


async def test_an_email_outside_the_served_domains_is_refused_and_names_the_fix(
    gateway_url: str, auth: AuthServiceAsyncStub, idp: FakeIdp, pool: asyncpg.Pool,
    disabled_tenant: Tenant,
) -> None:  # fmt: skip
    """nOAuth: a domain the connection does not serve creates nobody; the dry run says so and
    names Okta's Primary email and the Domains step."""
    made = disabled_tenant
    idp.users["eve"] = {"subject": "eve", "email": "eve@elsewhere.test", "groups": []}
    before = await _writes(pool, made.account_id)
    _, location = await _test_sign_in(gateway_url, auth, made, "eve")
    assert await _writes(pool, made.account_id) == before
    trace, result = await _result(auth, made, location)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_FAILURE
    assert trace.reason == "email_domain_not_served"
    assert result["outcome"] == "refused"
    (fix,) = [f for f in result["fixes"] if "domain" in f["problem"]]
    assert "Primary email" in fix["setting"]
    assert made.domain in fix["setting"]
    assert "Domains step" in fix["setting"]
