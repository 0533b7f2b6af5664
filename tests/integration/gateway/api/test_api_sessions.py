"""``/api/v1/users/{id}/sessions``, ``DELETE /api/v1/sessions/{id}`` and
``POST /api/v1/users/{id}:revoke-sessions`` on the real auth and directory, with a second auth
replica on the same database: a session an admin ends fails ValidateSession on every replica
within a second (nothing caches a session, so it is the next validation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from auth.app import build_app
from auth.sso.servicer import SsoSettings
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.server import GrpcServer
from tests.integration.gateway.api.stack import SEED_PASSWORD, Stack, Tenant

pytestmark = pytest.mark.integration

WITHIN_SECONDS = 1.0


@pytest.fixture(scope="module")
async def other_replica(database_url: str, stack: Stack) -> AsyncIterator[Any]:
    """A second auth replica: its own process state and pool, the same database."""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    settings = SsoSettings(secretbox=stack.secretbox, directory_addr=stack.directory_address)
    server = GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)
    app = build_app(pool, host="127.0.0.1", port=0, server=server, sso=settings)
    port = await app.start()
    channel = connect(f"127.0.0.1:{port}")
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()
    await app.stop()
    await pool.close()


async def _sign_in(tenant: Tenant, user_id: str, email: str) -> str:
    """A browser session of the user (the admin sign-in's local password); its secret."""
    opened = await tenant.stack.auth.VerifyLocalPassword(
        auth_pb2.VerifyLocalPasswordRequest(
            account_id=tenant.id, email=email, password=SEED_PASSWORD, open_session=True
        )
    )
    secret: str = opened.session_secret
    return secret


async def _user_with_password(tenant: Tenant) -> tuple[str, str]:
    user = await tenant.user()
    email = f"{user.id[:8]}@{tenant.account.name}.test"
    await tenant.stack.auth.SetLocalPassword(
        auth_pb2.SetLocalPasswordRequest(
            account_id=tenant.id, user_id=user.id, email=email, password=SEED_PASSWORD
        )
    )
    return user.id, email


async def _valid(replica: Any, secret: str) -> bool:
    try:
        await replica.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    except grpc.aio.AioRpcError as error:
        if error.code() is not grpc.StatusCode.UNAUTHENTICATED:
            raise
        return False
    return True


async def _seconds_until_invalid(replica: Any, secret: str) -> float:
    """How long after now ``replica`` starts answering the session false (polled every 10 ms,
    given up after 5 s)."""
    started = time.perf_counter()
    while await _valid(replica, secret):
        if time.perf_counter() - started > 5:
            return float("inf")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def test_an_admin_lists_a_users_sessions_then_ends_one_then_all(
    tenant: Tenant, other_replica: Any
) -> None:
    """users:read lists the sessions newest first with how they began; users:manage ends one
    (204) and then every other (the count); each ended session fails ValidateSession on the
    other replica within a second, and the list shows why it ended."""
    user_id, email = await _user_with_password(tenant)
    first, second, third = [await _sign_in(tenant, user_id, email) for _ in range(3)]
    listed = await tenant.json("GET", f"/users/{user_id}/sessions")
    assert [s["active"] for s in listed["items"]] == [True, True, True]
    newest = listed["items"][0]
    assert newest["id"].replace("-", "") in third
    assert newest["expire_time"]
    assert newest["idle_expire_time"]
    assert newest["last_use_time"]

    await tenant.json("DELETE", f"/sessions/{newest['id']}", expect=204)
    assert await _seconds_until_invalid(other_replica, third) < WITHIN_SECONDS
    assert await _valid(other_replica, first)
    assert await _valid(other_replica, second)
    # Ending it again changes nothing.
    await tenant.json("DELETE", f"/sessions/{newest['id']}", expect=204)

    revoked = await tenant.json("POST", f"/users/{user_id}:revoke-sessions")
    assert revoked == {"revoked": 2}
    for secret in (first, second):
        assert await _seconds_until_invalid(other_replica, secret) < WITHIN_SECONDS
    after = await tenant.json("GET", f"/users/{user_id}/sessions")
    assert [(s["active"], s["revoke_reason"]) for s in after["items"]] == [(False, "admin")] * 3


async def test_an_unknown_session_is_404_and_a_foreign_users_sessions_are_invisible(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """Tenant isolation: another account's session and user are 404 like unknown ones, and
    nothing of theirs ends."""
    user_id, email = await _user_with_password(other_tenant)
    secret = await _sign_in(other_tenant, user_id, email)
    theirs = (await other_tenant.json("GET", f"/users/{user_id}/sessions"))["items"][0]["id"]
    await tenant.json("DELETE", f"/sessions/{theirs}", expect=404)
    await tenant.json("POST", f"/users/{user_id}:revoke-sessions", expect=404)
    await tenant.json("GET", f"/users/{user_id}/sessions", expect=404)
    assert await _valid(other_tenant.stack.auth, secret)
