"""The admin API in-process on the real services: the directory servicer and the auth servicer
(production wiring, session PostgreSQL) on meshkit GrpcServers bound to 127.0.0.1:0, and the
production ``create_app`` behind aiohttp's TestServer. Tenants are real accounts with real API
tokens; each test makes its own, so tests share the stack and never see each other's rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import timestamp_pb2

from auth.app import build_app
from auth.permissions import KNOWN_PERMISSIONS
from auth.sso.servicer import SsoSettings
from directory.app import build_server
from directory.config import parse_nameservers
from directory.domains.dns import DnsChecker
from gateway.api.routing import Route
from gateway.api.schemas import components
from gateway.app import create_app
from gateway.auth import has_permission
from gateway.clients import Clients
from gateway.config import load_gateway_config
from gateway.protocol_errors import ProblemAppRunner
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import directory_pb2_grpc
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.support.directory import Stub
from tests.support.gateway_peers import GatewayClient, unused_address

API = "/api/v1"


class GatewayTestServer(TestServer):
    """aiohttp's TestServer on the gateway's production runner (gateway.server): a request
    aiohttp refuses before any handler (a malformed header) is answered as in production, an
    RFC 9457 problem (gateway.protocol_errors), not aiohttp's text/plain page."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return ProblemAppRunner(self.app, **kwargs)


ALL_PERMISSIONS: frozenset[str] = KNOWN_PERMISSIONS
SYSTEM = pb.Actor(type=pb.ACTOR_TYPE_SYSTEM, id="tests", display_name="API tests")


def permissions_without(required: str) -> frozenset[str]:
    """Every permission auth issues except those that satisfy ``required``."""
    return frozenset(p for p in ALL_PERMISSIONS if not has_permission({p}, required))


@dataclass
class Stack:
    client: GatewayClient
    directory: Stub
    auth: Any
    """An auth_pb2_grpc.AuthServiceAsyncStub."""
    directory_address: str = ""
    secretbox: SecretBox | None = None

    @property
    def base_url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")


@dataclass
class Tenant:
    """An account with API tokens; ``request`` calls the API with its all-permissions token."""

    stack: Stack
    account: pb.Account
    token: str
    _tokens: dict[frozenset[str], str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.account.id

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    async def token_with(self, permissions: Iterable[str]) -> str:
        """A token of this account with exactly ``permissions`` (made once per set)."""
        wanted = frozenset(permissions)
        if wanted not in self._tokens:
            self._tokens[wanted] = await mint_token(self.stack, self.id, wanted)
        return self._tokens[wanted]

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> ClientResponse:
        """``method API+path`` with this tenant's token (or ``token``)."""
        return await self.stack.client.request(
            method, API + path, headers=self.headers(token, **(headers or {})), **kwargs
        )

    async def json(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """The JSON body of a call that must answer ``expect``."""
        response = await self.request(method, path, **kwargs)
        text = await response.text()
        assert response.status == expect, f"{method} {path}: {response.status} {text}"
        return await response.json() if text else None

    # -- fixtures made through the directory, as SCIM or a sign-in would ----------------------

    @property
    def token_id(self) -> str:
        """The id of the all-permissions token (auth mints ``idm_<id hex>_<random>``)."""
        return str(uuid.UUID(self.token.split("_")[1]))

    async def user(
        self,
        user_name: str | None = None,
        initial_status: pb.UserStatus.ValueType = pb.USER_STATUS_UNSPECIFIED,
        **fields: Any,
    ) -> pb.User:
        name = user_name or f"user-{uuid.uuid4().hex[:8]}@example.com"
        response = await self.stack.directory.CreateUser(
            pb.CreateUserRequest(
                user=pb.User(account_id=self.id, user_name=name, **fields),
                initial_status=initial_status,
                actor=SYSTEM,
            )
        )
        return response.user

    async def space(self, name: str | None = None) -> pb.Space:
        response = await self.stack.directory.CreateSpace(
            pb.CreateSpaceRequest(
                space=pb.Space(account_id=self.id, name=name or f"space-{uuid.uuid4().hex[:6]}"),
                actor=SYSTEM,
            )
        )
        return response.space

    async def group(self, display_name: str = "Engineering", **fields: Any) -> pb.Group:
        response = await self.stack.directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(account_id=self.id, display_name=display_name, **fields),
                actor=SYSTEM,
            )
        )
        return response.group

    async def role(self, name: str) -> pb.Role:
        """The account's role called ``name`` (built-in ones included)."""
        response = await self.stack.directory.ListRoles(
            pb.ListRolesRequest(
                account_id=self.id,
                filter=pb.Filter(
                    comparison=pb.Comparison(
                        attribute="name",
                        operator=pb.OPERATOR_EQUAL,
                        value=pb.FilterValue(string_value=name),
                    )
                ),
            )
        )
        (role,) = response.roles
        return role


SEED_PASSWORD = "correct horse battery staple 42"


async def seed_resources(tenant: Tenant) -> dict[str, str]:
    """One of each resource in ``tenant``, by path parameter name: a user (a manual member of
    the group), a space, a group, a custom space role, a manual grant, the account name, an
    API token, an OAuth client, an OIDC connection (no domains), a pending domain claim (under
    .test, one of the account's own), a webhook endpoint and a session of the user."""
    user = await tenant.user()
    space = await tenant.space()
    group = await tenant.group(idp_identifier=f"idp-{uuid.uuid4().hex[:8]}")
    await tenant.stack.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=tenant.id,
            group_id=group.id,
            add_user_ids=[user.id],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=SYSTEM,
        )
    )
    role = await tenant.stack.directory.CreateRole(
        pb.CreateRoleRequest(
            role=pb.Role(
                account_id=tenant.id,
                name="Seeded",
                scope=pb.ROLE_SCOPE_SPACE,
                permissions=["space:read"],
            ),
            actor=SYSTEM,
        )
    )
    member = await tenant.role("Space Member")
    connection = await tenant.stack.auth.CreateConnection(
        auth_pb2.CreateConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=tenant.id,
                name="okta",
                display_name="Okta",
                enabled=True,
                oidc=auth_pb2.OidcSettings(
                    issuer="https://example.okta.com",
                    client_id="client",
                    client_secret="secret",
                    vendor=auth_pb2.OIDC_VENDOR_OKTA,
                ),
            ),
            skip_discovery_check=True,
        )
    )
    client = await tenant.stack.auth.CreateOAuthClient(
        auth_pb2.CreateOAuthClientRequest(account_id=tenant.id, permissions=["users:read"])
    )
    await tenant.stack.directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=tenant.id,
            user_id=user.id,
            space_id=space.id,
            role_id=member.id,
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=SYSTEM,
        )
    )
    # A browser session of the user (the admin sign-in opens one with a local password).
    email = f"seed@{tenant.account.name}.test"
    await tenant.stack.auth.SetLocalPassword(
        auth_pb2.SetLocalPasswordRequest(
            account_id=tenant.id, user_id=user.id, email=email, password=SEED_PASSWORD
        )
    )
    signed_in = await tenant.stack.auth.VerifyLocalPassword(
        auth_pb2.VerifyLocalPasswordRequest(
            account_id=tenant.id, email=email, password=SEED_PASSWORD, open_session=True
        )
    )
    domain = await tenant.stack.directory.ClaimDomain(
        pb.ClaimDomainRequest(
            account_id=tenant.id, domain=f"{tenant.account.name}.test", actor=SYSTEM
        )
    )
    webhook = await tenant.json(
        "POST", "/webhooks", expect=201, json={"url": "https://hooks.example.com/idmesh"}
    )
    link = await tenant.stack.auth.CreateSetupLink(
        auth_pb2.CreateSetupLinkRequest(
            account_id=tenant.id, sso=True, expire_time=_in_a_day(), created_by="tests"
        )
    )
    return {
        "name": tenant.account.name,
        "link_id": link.link.id,
        "domain_id": domain.domain.id,
        "user_id": user.id,
        "space_id": space.id,
        "group_id": group.id,
        "role_id": role.role.id,
        "grant_id": f"{user.id}.{space.id}.manual",
        "token_id": str(
            uuid.UUID((await mint_token(tenant.stack, tenant.id, ["audit:read"])).split("_")[1])
        ),
        "client_id": client.client.id,
        "connection_id": connection.connection.id,
        "webhook_id": webhook["webhook"]["id"],
        "session_id": signed_in.session.id,
    }


def _in_a_day() -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    return value


# Body members that name other resources, and the seeded ids they get.
_ID_MEMBERS: dict[str, Callable[[dict[str, str]], Any]] = {
    "user_id": lambda ids: ids["user_id"],
    "space_id": lambda ids: ids["space_id"],
    "role_id": lambda ids: ids["role_id"],
    "user_ids": lambda ids: [ids["user_id"]],
    "member_ids": lambda ids: [ids["user_id"]],
    "space_roles": lambda ids: [{"space_id": ids["space_id"], "role_id": ids["role_id"]}],
}


def _body_members(route: Route) -> set[str]:
    body = route.endpoint.operation.body
    return set(components()[body]["properties"]) if body is not None else set()


def names_resources(route: Route) -> bool:
    """Whether the route's body has members that name other resources by id."""
    return bool(_body_members(route) & set(_ID_MEMBERS))


def example_body(route: Route, ids: dict[str, str]) -> Any:
    """The route's documented example body with every member naming a resource set from
    ``ids`` (seed_resources' ids of some tenant); None for a route without a body."""
    example = route.endpoint.operation.example
    if example is None:
        return None
    body = dict(example)
    for member in _body_members(route) & set(_ID_MEMBERS):
        body[member] = _ID_MEMBERS[member](ids)
    return body


async def mint_token(stack: Stack, account_id: str, permissions: Iterable[str]) -> str:
    response = await stack.auth.CreateApiToken(
        auth_pb2.CreateApiTokenRequest(
            account_id=account_id,
            description="api tests",
            permissions=sorted(permissions),
            created_by="tests",
        )
    )
    secret: str = response.secret
    return secret


async def new_tenant(stack: Stack, permissions: Iterable[str] = ALL_PERMISSIONS) -> Tenant:
    response = await stack.directory.CreateAccount(
        pb.CreateAccountRequest(
            name=f"api-{uuid.uuid4().hex[:10]}", display_name="API tests", actor=SYSTEM
        )
    )
    account = response.account
    token = await mint_token(stack, account.id, permissions)
    return Tenant(stack, account, token)


def _fast_server() -> GrpcServer:
    return GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)


@asynccontextmanager
async def start_stack(
    database_url: str, dns_nameservers: str = "", port: int = 0
) -> AsyncIterator[Stack]:
    """directory and auth in-process on ``database_url`` (migrated), the gateway in front;
    directory verifies domains with ``dns_nameservers`` (DNS_NAMESERVERS syntax). With a
    ``port``, the gateway listens there and knows it as its public URL (a browser's Origin
    then matches, as the forms' same-origin check requires)."""
    pool = await create_pool(database_url, min_size=1, max_size=10)
    # A throwaway encryption key, so that connections (with sealed client secrets) and webhook
    # endpoints (with sealed signing secrets) can be made.
    secretbox = SecretBox(os.urandom(32))
    directory_server = build_server(
        pool,
        host="127.0.0.1",
        port=0,
        secretbox=secretbox,
        server=_fast_server(),
        dns=DnsChecker(parse_nameservers(dns_nameservers)),
    )
    directory_port = await directory_server.start()
    # The real directory, so that sessions validate (the admin pages sign in with them).
    auth_app = build_app(
        pool,
        host="127.0.0.1",
        port=0,
        server=_fast_server(),
        sso=SsoSettings(secretbox=secretbox, directory_addr=f"127.0.0.1:{directory_port}"),
    )
    auth_port = await auth_app.start()
    clients = Clients.connect(
        directory_addr=f"127.0.0.1:{directory_port}",
        auth_addr=f"127.0.0.1:{auth_port}",
        scim_addr=unused_address(),
    )
    settings = {"PORT": str(port)}
    if port:
        settings["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = GatewayTestServer(
        create_app(load_gateway_config(settings), clients), host="127.0.0.1", port=port
    )
    directory_channel = connect(f"127.0.0.1:{directory_port}")
    auth_channel = connect(f"127.0.0.1:{auth_port}")
    try:
        await server.start_server(access_log=None)
        async with TestClient(server) as client:
            yield Stack(
                client=client,
                directory=directory_pb2_grpc.DirectoryServiceStub(directory_channel),
                auth=auth_pb2_grpc.AuthServiceStub(auth_channel),
                directory_address=f"127.0.0.1:{directory_port}",
                secretbox=secretbox,
            )
    finally:
        await server.close()
        await clients.close()
        await directory_channel.close()
        await auth_channel.close()
        await auth_app.stop()
        await directory_server.stop()
        await pool.close()
