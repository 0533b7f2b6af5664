"""How an attacker tried to get in over OIDC, replayed against the real gateway, auth and
directory processes and the OpenID-certified oidc-provider, and the userinfo endpoint.

- nOAuth across connections: a second connection of the account (its own IdP, serving another
  domain) asserts ``email: alice@<first domain>`` with ``email_verified: true`` and a new
  ``sub``. An existing user may be linked by email only when the email's domain is a verified
  domain of the account that THIS connection serves; otherwise the login is refused
  (``email_domain_not_served``) and Alice is untouched.
- userinfo (OIDC Core §5.3): claims the IdP puts only there reach group sync (a certified
  provider never answers another ``sub``; that refusal is shown against the test IdP of
  tests/integration/sso).
"""

from __future__ import annotations

import json

import pytest

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.oidc.helpers import (
    OidcTenant,
    OidcTenantFactory,
    browser,
    fresh_user,
    login,
    login_traces,
    run_idmesh,
)
from tests.e2e.tenants import verify_domain
from tests.idps.oidc.provider import SCOPES, OidcProvider

pytestmark = pytest.mark.e2e


async def _second_connection(mesh: Mesh, provider: OidcProvider, first: OidcTenant) -> OidcTenant:
    """Another connection of the same account, to its own client at the IdP, serving its own
    verified domain, re-applying profile and spaces at every login."""
    client = await provider.register_client(f"{mesh.gateway_url}/sso/oidc/pending/callback")
    domain = f"second-{first.domain}"
    await verify_domain(mesh, first.account_id, domain)
    scopes = [arg for scope in SCOPES.split() for arg in ("--scope", scope)]
    out = await run_idmesh(
        mesh, "connection", "add-oidc", "--account", first.name, "--name", "second",
        "--issuer", provider.issuer, f"--client-id={client.client_id}", "--client-secret-stdin",
        "--vendor", "okta", "--domain", domain, "--update", "every-login", *scopes, "--json",
        stdin=client.client_secret + "\n",
    )  # fmt: skip
    created = json.loads(out)
    await provider.set_redirect_uri(client, created["redirect_uri"])
    return OidcTenant(
        first.name, first.account_id, created["connection"]["id"], domain, client, provider
    )


async def _users(mesh: Mesh, account_id: str) -> list[directory_pb2.User]:
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        listed = await stub.ListUsers(directory_pb2.ListUsersRequest(account_id=account_id))
    return list(listed.users)


async def test_a_second_connection_asserting_another_domains_verified_email_is_refused(
    sso_mesh: Mesh, oidc_provider: OidcProvider, oidc_tenant: OidcTenantFactory
) -> None:
    """The nOAuth takeover: connection B's IdP says alice@<A's domain>, email_verified true,
    with its own sub; B serves only its own domain, so nobody is linked, Alice's user (profile,
    spaces, version) is unchanged, and the trace says email_domain_not_served."""
    first: OidcTenant = await oidc_tenant()
    alice = f"alice-{fresh_user()}@{first.domain}"
    oidc_provider.set_user(alice, given_name="Alice", space_name="Trial")
    async with browser() as session:
        assert (await login(session, sso_mesh, first, alice)).status == 303
    [before] = await _users(sso_mesh, first.account_id)
    second = await _second_connection(sso_mesh, oidc_provider, first)
    oidc_provider.set_user(alice, given_name="Mallory", space_name="DevOps", email_verified=True)
    async with browser() as session:
        refused = await login(session, sso_mesh, second, alice)
        assert refused.status == 403
        assert not any(cookie.key == "idmesh_session" for cookie in session.cookie_jar)
    [after] = await _users(sso_mesh, first.account_id)
    assert after == before
    (trace, *_) = await login_traces(sso_mesh, first.account_id)
    assert trace.connection_id == second.connection_id
    assert (trace.outcome, trace.stage, trace.reason) == (
        auth_pb2.LOGIN_OUTCOME_FAILURE,
        "provisioning",
        "email_domain_not_served",
    )


async def test_groups_the_idp_puts_only_in_userinfo_reach_group_sync(
    sso_mesh: Mesh, oidc_provider: OidcProvider, oidc_tenant: OidcTenantFactory
) -> None:
    """OIDC Core §5.3: with the okta preset idmesh asks the userinfo endpoint after the ID
    token; a groups claim that only userinfo carries syncs the user's groups (and without
    --userinfo it would not: shown by the connection that turns it off)."""
    with_userinfo: OidcTenant = await oidc_tenant()
    without: OidcTenant = await oidc_tenant("--no-userinfo")
    for tenant, joined in ((with_userinfo, True), (without, False)):
        user = fresh_user()
        oidc_provider.set_user(user, groups=["gid-eng"], userinfo_only=["groups"])
        async with connect(sso_mesh.address("directory")) as channel:
            stub = directory_pb2_grpc.DirectoryServiceStub(channel)
            await stub.CreateGroup(
                directory_pb2.CreateGroupRequest(
                    group=directory_pb2.Group(
                        account_id=tenant.account_id, display_name="Eng", idp_identifier="gid-eng"
                    ),
                    actor=directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_CLI, id="e2e"),
                )
            )
        async with browser() as session:
            response = await login(session, sso_mesh, tenant, user)
        (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
        assert response.status == 303, f"{trace.reason}: {trace.detail}"
        assert ("groups +1" in trace.detail) is joined, trace.detail
        assert list(trace.groups) == (["gid-eng"] if joined else [])
