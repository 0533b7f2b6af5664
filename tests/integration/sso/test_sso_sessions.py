"""Sessions after an SSO login: validated by auth for the platform's services, ended by logout,
and ended at once when the user is deactivated or deleted (brief, issue 4 "Sessions"; the
Torque guide "Relation to SSO")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import grpc
import pytest

from auth.sso.login_store import SessionStore
from auth.sso.sessions import SessionManager
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from meshkit.channels import connect
from meshkit.errors import Unauthenticated
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import Tenant, browser
from tests.integration.sso.test_sso_login_flow import login
from tests.support.directory import ADMIN, Stub, failure, new_group

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

TenantFactory = Callable[..., Any]


def _secret(client: aiohttp.ClientSession) -> str:
    for cookie in client.cookie_jar:
        if cookie.key == "idmesh_session":
            return cookie.value
    raise AssertionError("no session cookie")


async def _user_id(auth: AuthServiceAsyncStub, secret: str) -> tuple[str, str]:
    validated = await auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    return validated.session.account_id, validated.session.user_id


async def test_validate_session_names_the_user_and_refuses_anything_else(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub
) -> None:
    """ValidateSession, for the platform's services: the account and user behind a cookie;
    one UNAUTHENTICATED for unknown, tampered and malformed secrets."""
    made: Tenant = await tenant()
    client, _ = await login(gateway_url, made)
    secret = _secret(client)
    await client.close()
    account_id, user_id = await _user_id(auth, secret)
    assert account_id == made.account_id
    assert user_id
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (tampered, "ids_" + "0" * 32 + "_" + "A" * 43, "garbage", ""):
        code, _ = await failure(
            auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=bad))
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_ends_the_session_everywhere(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub
) -> None:
    made: Tenant = await tenant()
    client, _ = await login(gateway_url, made)
    secret = _secret(client)
    try:
        async with client.get(f"{gateway_url}/logout") as form:
            assert 'method="post"' in await form.text()
        async with client.post(f"{gateway_url}/logout", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/login?signed_out=1"
        async with client.get(f"{gateway_url}/me", allow_redirects=False) as page:
            assert page.status == 303
            assert page.headers["Location"] == "/login?return_to=/me"
    finally:
        await client.close()
    code, _ = await failure(
        auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_deactivated_user_cannot_sign_in_and_loses_the_sessions_they_had(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, directory: Stub,
    idp: FakeIdp,
) -> None:  # fmt: skip
    """SCIM active=false ends sessions at once: ValidateSession asks directory every time."""
    made: Tenant = await tenant()
    idp.users["dee"] = {"subject": "dee", "email": f"dee@{idp.email_domain}"}
    first, _ = await login(gateway_url, made, login_hint="dee")
    second, _ = await login(gateway_url, made, login_hint="dee")
    secrets = [_secret(first), _secret(second)]
    account_id, user_id = await _user_id(auth, secrets[0])
    user = (await directory.GetUser(
        directory_pb2.GetUserRequest(account_id=account_id, user_id=user_id)
    )).user  # fmt: skip
    user.active = False
    await directory.UpdateUser(directory_pb2.UpdateUserRequest(user=user, actor=ADMIN))
    try:
        async with first.get(f"{gateway_url}/me", allow_redirects=False) as page:
            assert page.status == 303
    finally:
        await first.close()
        await second.close()
    for secret in secrets:
        code, _ = await failure(
            auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED
    client, response = await login(gateway_url, made, login_hint="dee")
    await client.close()
    assert response.status == 403
    # Reactivated later, the old sessions stay ended.
    user = (await directory.GetUser(
        directory_pb2.GetUserRequest(account_id=account_id, user_id=user_id)
    )).user  # fmt: skip
    user.active = True
    await directory.UpdateUser(directory_pb2.UpdateUserRequest(user=user, actor=ADMIN))
    code, _ = await failure(
        auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secrets[1]))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_deleted_user_loses_their_session(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, directory: Stub
) -> None:
    """SCIM DELETE: the user is gone, so is the session."""
    made: Tenant = await tenant()
    client, _ = await login(gateway_url, made)
    secret = _secret(client)
    await client.close()
    account_id, user_id = await _user_id(auth, secret)
    await directory.DeleteUser(
        directory_pb2.DeleteUserRequest(account_id=account_id, user_id=user_id, actor=ADMIN)
    )
    code, _ = await failure(
        auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_scim_provisioned_pending_user_who_signs_in_is_the_same_user_now_active(
    gateway_url: str, tenant: TenantFactory, auth: AuthServiceAsyncStub, directory: Stub,
    idp: FakeIdp,
) -> None:  # fmt: skip
    """The Torque guide: "Torque identifies that this is the same user as the one created via
    provisioning and performs a normal login"."""
    made: Tenant = await tenant()
    created = await directory.CreateUser(
        directory_pb2.CreateUserRequest(
            user=directory_pb2.User(account_id=made.account_id, user_name=f"Pat@{made.domain}"),
            actor=directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SCIM_TOKEN, id="tok"),
        )
    )
    assert created.user.status == directory_pb2.USER_STATUS_PENDING
    idp.users["pat"] = {"subject": "pat-sub", "email": f"pat@{idp.email_domain}"}
    client, response = await login(gateway_url, made, login_hint="pat")
    secret = _secret(client)
    await client.close()
    assert response.status == 303
    _, user_id = await _user_id(auth, secret)
    assert user_id == created.user.id
    now = await directory.GetUser(
        directory_pb2.GetUserRequest(account_id=made.account_id, user_id=user_id)
    )
    assert now.user.status == directory_pb2.USER_STATUS_ACTIVE


async def test_me_shows_groups_synced_from_the_groups_claim(
    gateway_url: str, tenant: TenantFactory, directory: Stub, idp: FakeIdp
) -> None:
    """The Torque guide: groups whose IdP identifier the claim lists are assigned at login."""
    made: Tenant = await tenant()
    await new_group(directory, made.account_id, "Platform Team", idp_identifier="gid-platform")
    idp.users["gus"] = {
        "subject": "gus",
        "email": f"gus@{idp.email_domain}",
        "groups": ["gid-platform"],
    }
    client, _ = await login(gateway_url, made, login_hint="gus")
    try:
        async with client.get(f"{gateway_url}/me") as page:
            assert "Platform Team" in await page.text()
    finally:
        await client.close()


async def test_me_without_a_session_asks_to_sign_in(gateway_url: str) -> None:
    async with browser() as client, client.get(f"{gateway_url}/me", allow_redirects=False) as page:
        assert page.status == 303
        assert page.headers["Location"] == "/login?return_to=/me"


async def test_a_session_records_how_it_began_and_ends_when_idle_for_too_long(
    gateway_url: str,
    tenant: TenantFactory,
    auth: AuthServiceAsyncStub,
    pool: asyncpg.Pool,
    directory_address: str,
) -> None:
    """A session keeps its connection, client IP and user agent; unused for SESSION_IDLE_TTL
    it ends (reason idle) well before SESSION_TTL, for every replica."""
    made: Tenant = await tenant()
    client, _ = await login(gateway_url, made)
    secret = _secret(client)
    await client.close()
    account_id, user_id = await _user_id(auth, secret)
    async with connect(directory_address) as channel:
        two_hours_later = SessionManager(
            SessionStore(pool),
            directory_pb2_grpc.DirectoryServiceStub(channel),
            ttl=timedelta(hours=8),
            idle_ttl=timedelta(hours=1),
            clock=lambda: datetime.now(UTC) + timedelta(hours=2),
        )
        with pytest.raises(Unauthenticated):
            await two_hours_later.validate(secret)
    code, _ = await failure(
        auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    listed = await auth.ListUserSessions(
        auth_pb2.ListUserSessionsRequest(account_id=account_id, user_id=user_id)
    )
    (session,) = listed.sessions
    # The ID token (for id_token_hint) is kept sealed like client secrets, never in clear.
    row = await pool.fetchrow(
        "SELECT oidc_id_token, oidc_id_token_key_id, oidc_sub FROM auth.sessions"
        " WHERE account_id = $1 AND id = $2",
        uuid.UUID(account_id),
        uuid.UUID(session.id),
    )
    assert row is not None
    assert row["oidc_id_token_key_id"]
    assert b"eyJ" not in bytes(row["oidc_id_token"])
    assert row["oidc_sub"]
    assert session.revoke_reason == "idle"
    assert session.connection_id == made.connection_id
    assert session.ip_address == "127.0.0.1"
    assert session.user_agent.startswith("Python/")
