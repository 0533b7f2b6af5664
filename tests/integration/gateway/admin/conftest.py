"""Fixtures of the admin pages' tests: the admin API's in-process stack (real directory and
auth, tests/integration/gateway/api/stack.py), a fresh tenant with a bootstrap admin per test,
and a browser-like client with its own cookie jar."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.admin.login import LIMITS
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.api.stack import SYSTEM, Stack, Tenant, new_tenant, start_stack

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with start_stack(database_url) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_rate_limits(stack: Stack) -> None:
    """Every test starts with full buckets (all tests come from 127.0.0.1)."""
    server = stack.client.server
    assert isinstance(server, TestServer)
    server.app[LIMITS].clear()


@dataclass
class Admin:
    tenant: Tenant
    email: str
    user: pb.User


async def make_admin(tenant: Tenant, role_name: str = "Account Admin") -> Admin:
    """An active user of ``tenant`` with ``role_name`` as account role and a local password,
    made as ``idmesh admin create`` does."""
    role = await tenant.role(role_name)
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    created = await tenant.stack.directory.CreateUser(
        pb.CreateUserRequest(
            user=pb.User(account_id=tenant.id, user_name=email, account_role_id=role.id),
            initial_status=pb.USER_STATUS_ACTIVE,
            actor=SYSTEM,
        )
    )
    await tenant.stack.auth.SetLocalPassword(
        auth_pb2.SetLocalPasswordRequest(
            account_id=tenant.id, user_id=created.user.id, email=email, password=PASSWORD
        )
    )
    return Admin(tenant, email, created.user)


async def account_role(tenant: Tenant, permissions: Iterable[str]) -> str:
    """A custom account role of ``tenant`` with exactly ``permissions``; returns its name."""
    name = f"Limited {uuid.uuid4().hex[:6]}"
    await tenant.stack.directory.CreateRole(
        pb.CreateRoleRequest(
            role=pb.Role(
                account_id=tenant.id,
                name=name,
                scope=pb.ROLE_SCOPE_ACCOUNT,
                permissions=sorted(permissions),
            ),
            actor=SYSTEM,
        )
    )
    return name


@pytest.fixture
async def tenant(stack: Stack) -> Tenant:
    return await new_tenant(stack)


@pytest.fixture
async def admin(tenant: Tenant) -> Admin:
    return await make_admin(tenant)


def new_browser(stack: Stack) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    """A client with its own cookies."""
    async with new_browser(stack) as session:
        yield session


async def sign_in(
    browser: aiohttp.ClientSession, admin: Admin, password: str = PASSWORD
) -> aiohttp.ClientResponse:
    return await browser.post(
        "/admin/login",
        data={"account": admin.tenant.account.name, "email": admin.email, "password": password},
        allow_redirects=False,
    )
