"""SSO end to end: the real processes (gateway, auth, scim, directory) and the OpenID-certified
oidc-provider on 127.0.0.1, driven by an HTTP client the way a browser is (brief, issue 4;
docs/real-idps.md §2)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from yarl import URL

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
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
    start_login,
)
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e.tenants import create_token
from tests.idps.oidc.provider import OidcProvider, sign_in_at_idp

pytestmark = pytest.mark.e2e

ACTOR = directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SYSTEM, id="e2e", display_name="e2e")


async def _group(mesh: Mesh, account_id: str, name: str, idp_identifier: str) -> str:
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        created = await stub.CreateGroup(
            directory_pb2.CreateGroupRequest(
                group=directory_pb2.Group(
                    account_id=account_id, display_name=name, idp_identifier=idp_identifier
                ),
                actor=ACTOR,
            )
        )
    return created.group.id


async def _space(mesh: Mesh, account_id: str, name: str) -> None:
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        await stub.CreateSpace(
            directory_pb2.CreateSpaceRequest(
                space=directory_pb2.Space(account_id=account_id, name=name), actor=ACTOR
            )
        )


async def _me(mesh: Mesh, session: aiohttp.ClientSession) -> tuple[int, str]:
    async with session.get(f"{mesh.gateway_url}/me", allow_redirects=False) as page:
        return page.status, await page.text()


async def test_a_user_signs_in_through_the_certified_idp_and_sees_spaces_and_groups(
    sso_mesh: Mesh, oidc_provider: OidcProvider, oidc_tenant: OidcTenantFactory
) -> None:
    """The full flow: start → oidc-provider's login and consent → callback → session → /me,
    with just-in-time provisioning, the six rules and group sync; the login is traced as a
    success and auth logs "Valid login through Okta IdP detected" with the group ids (the
    Torque guide's debugging advice)."""
    tenant: OidcTenant = await oidc_tenant()
    await _space(sso_mesh, tenant.account_id, "DevOps")
    await _space(sso_mesh, tenant.account_id, "Trial")
    await _group(sso_mesh, tenant.account_id, "Acme Admins", "gid-acme-admins")
    user = fresh_user()
    oidc_provider.set_user(
        user, given_name="Ada", family_name="Lovelace", timezone="Europe/Paris",
        space_name="DevOps,Trial", space_role="Space Developer", groups=["gid-acme-admins",
        "gid-unmapped"],
    )  # fmt: skip
    async with browser() as session:
        response = await login(session, sso_mesh, tenant, user)
        assert response.status == 303
        assert response.headers["Location"] == "/me"
        status, html = await _me(sso_mesh, session)
    assert status == 200
    for text in (f"{user}@{tenant.domain}", "Europe/Paris", "DevOps", "Trial", "Space Developer",
                 "Acme Admins"):  # fmt: skip
        assert text in html
    # Rule 1: one role for several spaces applies to every space.
    assert html.count("Space Developer") == 2
    (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert list(trace.groups) == ["gid-acme-admins", "gid-unmapped"]
    assert "no group for gid-unmapped" in trace.detail
    log_path = sso_mesh.log_path("auth")
    assert log_path is not None
    lines = [json.loads(line) for line in log_path.read_text().splitlines()
             if "Valid login through Okta IdP detected" in line]  # fmt: skip
    assert any(
        entry.get("group_ids") == ["gid-acme-admins", "gid-unmapped"]
        and entry.get("trace_id") == trace.trace_id
        for entry in lines
    )


async def test_home_realm_discovery_sends_an_email_to_its_idp(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """The Torque guide, "How this works": the user enters the corporate email; we route by
    domain to the IdP, which receives it as login_hint."""
    tenant: OidcTenant = await oidc_tenant()
    email = f"grace@{tenant.domain}"
    async with browser() as session:
        async with session.post(
            f"{sso_mesh.gateway_url}/login", data={"email": email}, allow_redirects=False
        ) as response:
            assert response.status == 303
            start = response.headers["Location"]
        async with session.get(f"{sso_mesh.gateway_url}{start}", allow_redirects=False) as idp:
            authorization = idp.headers["Location"]
        assert parse_qs(urlsplit(authorization).query)["login_hint"] == [email]
        callback = await sign_in_at_idp(
            session, authorization, f"{sso_mesh.gateway_url}/sso/oidc/", login=email
        )
        async with session.get(callback, allow_redirects=False) as done:
            assert done.status == 303
        status, html = await _me(sso_mesh, session)
    assert status == 200
    assert email in html


async def test_group_sync_over_three_logins_adds_keeps_removes_and_spares_manual(
    sso_mesh: Mesh, oidc_provider: OidcProvider, oidc_tenant: OidcTenantFactory
) -> None:
    """The Torque guide: assigned and unassigned automatically with each login; a membership
    added by hand stays (docs/architecture.md)."""
    tenant: OidcTenant = await oidc_tenant()
    admins = await _group(sso_mesh, tenant.account_id, "Admins", "gid-admins")
    await _group(sso_mesh, tenant.account_id, "Engineering", "gid-eng")
    user = fresh_user()
    oidc_provider.set_user(user, groups=["gid-admins", "gid-eng"])
    async with browser() as session:
        assert (await login(session, sso_mesh, tenant, user)).status == 303
        _, first = await _me(sso_mesh, session)
        (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
        async with connect(sso_mesh.address("directory")) as channel:
            stub = directory_pb2_grpc.DirectoryServiceStub(channel)
            await stub.ModifyGroupMembers(
                directory_pb2.ModifyGroupMembersRequest(
                    account_id=tenant.account_id, group_id=admins, add_user_ids=[trace.user_id],
                    source=directory_pb2.MEMBERSHIP_SOURCE_MANUAL, actor=ACTOR,
                )
            )  # fmt: skip
        assert (await login(session, sso_mesh, tenant, user)).status == 303
        _, second = await _me(sso_mesh, session)
        oidc_provider.set_user(user, groups=["gid-eng"])
        oidc_provider.set_user(f"{user}-other", groups=[])
        assert (await login(session, sso_mesh, tenant, user)).status == 303
        async with connect(sso_mesh.address("directory")) as channel:
            stub = directory_pb2_grpc.DirectoryServiceStub(channel)
            members = await stub.ListGroupMembers(
                directory_pb2.ListGroupMembersRequest(account_id=tenant.account_id, group_id=admins)
            )
    assert "Admins" in first
    assert "Engineering" in first
    assert "Admins" in second
    assert [(m.user_id, m.source) for m in members.members] == [
        (trace.user_id, directory_pb2.MEMBERSHIP_SOURCE_MANUAL)
    ]


async def test_replayed_state_replayed_code_and_a_foreign_iss_are_refused(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory
) -> None:
    """RFC 9700 §4.7 (state single use), RFC 6749 §4.1.2 (code single use, enforced by the
    certified IdP), RFC 9207 (the iss parameter), each reason in the login trace."""
    tenant: OidcTenant = await oidc_tenant()
    user = fresh_user()
    tenant.provider.ensure_email(user, tenant.domain)
    prefix = f"{sso_mesh.gateway_url}/sso/oidc/"
    async with browser() as session:
        first = await sign_in_at_idp(
            session, await start_login(session, sso_mesh, tenant), prefix, login=user
        )
        async with session.get(first, allow_redirects=False) as ok:
            assert ok.status == 303
        async with session.get(first, allow_redirects=False) as replay:
            assert replay.status == 403
        assert (await login_traces(sso_mesh, tenant.account_id))[0].reason == "state_replayed"

        second = await sign_in_at_idp(
            session, await start_login(session, sso_mesh, tenant), prefix, login=user
        )
        spent = parse_qs(urlsplit(first).query)["code"][0]
        async with session.get(str(URL(second).update_query(code=spent)),
                               allow_redirects=False) as reused:  # fmt: skip
            assert reused.status == 403
        traced = (await login_traces(sso_mesh, tenant.account_id))[0]
        assert traced.reason == "token_exchange_failed"
        assert "invalid_grant" in traced.detail

        third = await sign_in_at_idp(
            session, await start_login(session, sso_mesh, tenant), prefix, login=user
        )
        assert parse_qs(urlsplit(third).query)["iss"] == [(await _issuer(sso_mesh, tenant))]
        forged = str(URL(third).update_query(iss="http://127.0.0.1:1"))
        async with session.get(forged, allow_redirects=False) as mixed:
            assert mixed.status == 403
            page = await mixed.text()
    assert (await login_traces(sso_mesh, tenant.account_id))[0].reason == "response_iss_mismatch"
    assert "iss" not in page


async def _issuer(mesh: Mesh, tenant: OidcTenant) -> str:
    async with connect(mesh.address("auth")) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        got = await stub.GetConnection(
            auth_pb2.GetConnectionRequest(
                account_id=tenant.account_id, connection_id=tenant.connection_id
            )
        )
    return got.connection.oidc.issuer


async def test_a_scim_provisioned_user_signs_in_as_itself_and_scim_deactivation_ends_it(
    sso_mesh: Mesh, oidc_provider: OidcProvider, oidc_tenant: OidcTenantFactory
) -> None:
    """The Torque guide, "Relation to SSO": a user pushed over SCIM is pending, becomes active
    at its first SSO login as the same user; SCIM active=false ends the session at once and
    refuses the next login."""
    tenant: OidcTenant = await oidc_tenant()
    token = await create_token(sso_mesh, tenant.account_id)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    email = f"pat@{tenant.domain}"
    user_body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Pat", "familyName": "Doe"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
    }
    async with browser() as session:
        async with session.post(
            f"{sso_mesh.gateway_url}/scim/v2/Users", json=user_body, headers=headers
        ) as created:
            assert created.status == 201, await created.text()
            scim_id = (await created.json())["id"]
        assert (await login(session, sso_mesh, tenant, email)).status == 303
        (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
        assert trace.user_id == scim_id
        assert "pending user activated" in trace.detail
        status, _ = await _me(sso_mesh, session)
        assert status == 200
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        }
        async with session.patch(
            f"{sso_mesh.gateway_url}/scim/v2/Users/{scim_id}", json=patch, headers=headers
        ) as patched:
            assert patched.status in (200, 204), await patched.text()
        status, _ = await _me(sso_mesh, session)
        assert status == 303  # the session ended with the deactivation
        refused = await login(session, sso_mesh, tenant, email)
    assert refused.status == 403
    assert (await login_traces(sso_mesh, tenant.account_id))[0].reason == "user_deactivated"


async def test_idp_key_rotation_is_picked_up_without_restarting_idmesh(
    sso_mesh: Mesh, oidc_provider: OidcProvider, oidc_tenant: OidcTenantFactory,
    otlp_receiver: OtlpReceiver,
) -> None:  # fmt: skip
    """real-idps.md §2: the IdP restarts signing with k2; auth's cached JWKS (k1 only) misses
    the kid, refetches the set once, and the login succeeds."""
    tenant: OidcTenant = await oidc_tenant()
    user = fresh_user()
    async with browser() as session:
        assert (await login(session, sso_mesh, tenant, user)).status == 303
    await oidc_provider.restart(rotate=True)
    async with browser() as session:
        response = await login(session, sso_mesh, tenant, user)
    assert response.status == 303
    (trace, *_) = await login_traces(sso_mesh, tenant.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS

    def jwks_fetches(spans: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
        found = [s for s in spans if s.trace_id == trace.trace_id and s.service == "auth"
                 and s.kind == "CLIENT" and "/jwks" in str(s.attributes)]  # fmt: skip
        return found or None

    fetched = await otlp_receiver.wait_for(jwks_fetches)
    assert len(fetched) == 1


PROVISION_LOGIN = "/idmesh.directory.v1.DirectoryService/ProvisionLogin"


async def test_one_login_is_one_trace_from_the_gateway_to_postgresql(
    sso_mesh: Mesh, oidc_tenant: OidcTenantFactory, otlp_receiver: OtlpReceiver
) -> None:
    """Brief "Tracing": gateway → auth → the IdP's token endpoint (HTTP client span) →
    directory → PostgreSQL, idmesh.login.outcome on the callback span, and no code, state,
    session secret or client secret in any span."""
    tenant: OidcTenant = await oidc_tenant()
    user = fresh_user()
    tenant.provider.ensure_email(user, tenant.domain)
    prefix = f"{sso_mesh.gateway_url}/sso/oidc/"
    async with browser() as session:
        callback = await sign_in_at_idp(
            session, await start_login(session, sso_mesh, tenant), prefix, login=user
        )
        async with session.get(callback, allow_redirects=False) as response:
            assert response.status == 303
        secret = next(c.value for c in session.cookie_jar if c.key == "idmesh_session")
    (trace, *_) = await login_traces(sso_mesh, tenant.account_id)

    def complete(spans: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
        mine = [s for s in spans if s.trace_id == trace.trace_id]
        has_sql = any(s.service == "directory" and s.scope.endswith("asyncpg") for s in mine)
        has_token = any(s.service == "auth" and s.kind == "CLIENT" and "/token" in str(
            s.attributes) for s in mine)  # fmt: skip
        # Each service exports in its own batches, so a parent span may arrive after its
        # children: wait for every span the assertions below name, not just for some of them.
        has_provisioning = any(s.name == PROVISION_LOGIN and s.service == "directory" for s in mine)
        has_callback = any(s.service == "gateway" and s.kind == "SERVER" for s in mine)
        if has_sql and has_token and has_provisioning and has_callback:
            return mine
        return None

    spans = await otlp_receiver.wait_for(complete, within=15)
    (callback_span,) = [s for s in spans if s.service == "gateway" and s.kind == "SERVER"]
    assert callback_span.attributes["idmesh.login.outcome"] == "success"
    query = parse_qs(urlsplit(callback).query)
    for span in spans:
        text = " ".join(span.texts())
        for value in (query["code"][0], query["state"][0], secret, tenant.client.client_secret):
            assert value not in text, f"{span.service} {span.name} carries a secret"
