"""Fake peers for tests of the gateway (as meshkit.testing is for storage): small in-memory
servicers on real meshkit GrpcServers bound to 127.0.0.1:0, so the gateway's channels, health
checks, tracing and error mapping run exactly as in production. Not used by the service itself.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc
from aiohttp import web
from aiohttp.test_utils import TestClient

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from idmesh.scim.v1 import scim_pb2, scim_pb2_grpc
from meshkit.errors import FailedPrecondition, NotFound, Unauthenticated
from meshkit.server import GrpcServer

Context = grpc.aio.ServicerContext[Any, Any]
GatewayClient = TestClient[web.Request, web.Application]
GatewayFactory = Callable[..., AbstractAsyncContextManager[GatewayClient]]
"""``async with gateway(setup=fn, directory="host:port") as client``: see the gateway fixture."""

ACME_ID = "0b8f9a2e-6c1d-4e5f-8a7b-1c2d3e4f5a6b"
GLOBEX_ID = "7d6c5b4a-3f2e-4d1c-9b8a-7f6e5d4c3b2a"
ACME_SECRET = "idm_" + "a" * 32 + "_" + "A" * 43
"""A token of acme with users:manage."""
ACME_AUDITOR_SECRET = "idm_" + "b" * 32 + "_" + "B" * 43
"""A token of acme with audit:read only."""
GLOBEX_SECRET = "idm_" + "c" * 32 + "_" + "C" * 43
"""A token of globex with users:manage."""


class FakeDirectory(directory_pb2_grpc.DirectoryServiceServicer):
    """Accounts acme and globex. GetAccount waits ``delay_seconds``, then raises ``fail`` when
    it is set (any exception, as a bug in the real servicer would). GetUser is always NOT_FOUND
    (field user_id) and UpdateAccount always a version mismatch, to exercise those codes."""

    def __init__(self) -> None:
        self.fail: BaseException | None = None
        self.delay_seconds = 0.0
        self.accounts = {
            "acme": directory_pb2.Account(id=ACME_ID, name="acme", display_name="Acme Corp"),
            "globex": directory_pb2.Account(id=GLOBEX_ID, name="globex", display_name="Globex"),
        }

    async def GetAccount(
        self, request: directory_pb2.GetAccountRequest, context: Context
    ) -> directory_pb2.GetAccountResponse:
        await asyncio.sleep(self.delay_seconds)
        if self.fail is not None:
            raise self.fail
        account = self.accounts.get(request.name)
        if account is None:
            raise NotFound(f"no account named {request.name!r}", field="name")
        return directory_pb2.GetAccountResponse(account=account)

    async def GetUser(
        self, request: directory_pb2.GetUserRequest, context: Context
    ) -> directory_pb2.GetUserResponse:
        raise NotFound("user not found", field="user_id")

    async def UpdateAccount(
        self, request: directory_pb2.UpdateAccountRequest, context: Context
    ) -> directory_pb2.UpdateAccountResponse:
        raise FailedPrecondition("the account changed since it was read", reason="version_mismatch")


class FakeAuth(auth_pb2_grpc.AuthServiceServicer):
    """Verifies the three secrets above; any other is UNAUTHENTICATED, as the real service."""

    def __init__(self) -> None:
        self.verified_secrets: list[str] = []
        self.tokens = {
            ACME_SECRET: auth_pb2.VerifyApiTokenResponse(
                account_id=ACME_ID, token_id="tok-acme", permissions=["users:manage"]
            ),
            ACME_AUDITOR_SECRET: auth_pb2.VerifyApiTokenResponse(
                account_id=ACME_ID, token_id="tok-auditor", permissions=["audit:read"]
            ),
            GLOBEX_SECRET: auth_pb2.VerifyApiTokenResponse(
                account_id=GLOBEX_ID, token_id="tok-globex", permissions=["users:manage"]
            ),
        }

    async def VerifyApiToken(
        self, request: auth_pb2.VerifyApiTokenRequest, context: Context
    ) -> auth_pb2.VerifyApiTokenResponse:
        self.verified_secrets.append(request.secret)
        verified = self.tokens.get(request.secret)
        if verified is None:
            raise Unauthenticated("invalid API token")
        return verified


class FakeScim(scim_pb2_grpc.ScimServiceServicer):
    """Records every forwarded request and answers ``response`` (a 200 with an empty JSON
    object unless a test sets another)."""

    def __init__(self) -> None:
        self.requests: list[scim_pb2.HandleRequestRequest] = []
        self.response = scim_pb2.HandleRequestResponse(status=200, body=b"{}")

    async def HandleRequest(
        self, request: scim_pb2.HandleRequestRequest, context: Context
    ) -> scim_pb2.HandleRequestResponse:
        self.requests.append(request)
        return self.response


def unused_address() -> str:
    """A loopback address where nothing listens: a peer that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


class FakeMesh:
    """The three fake peers, each on its own GrpcServer (health, error interceptor, tracing)."""

    def __init__(self) -> None:
        # The generated base classes declare every RPC abstract for type checkers; the fakes
        # implement only what gateway tests call (the others answer UNIMPLEMENTED at run time).
        self.directory = FakeDirectory()  # type: ignore[abstract]
        self.auth = FakeAuth()  # type: ignore[abstract]
        self.scim = FakeScim()
        self.addresses: dict[str, str] = {}
        self._servers: dict[str, GrpcServer] = {}

    async def start(self) -> None:
        directory, auth, scim = self.directory, self.auth, self.scim
        registrations: dict[str, tuple[str, Callable[[grpc.aio.Server], None]]] = {
            "directory": (
                "idmesh.directory.v1.DirectoryService",
                lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, s),
            ),
            "auth": (
                "idmesh.auth.v1.AuthService",
                lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(auth, s),
            ),
            "scim": (
                "idmesh.scim.v1.ScimService",
                lambda s: scim_pb2_grpc.add_ScimServiceServicer_to_server(scim, s),
            ),
        }
        for name, (service, register) in registrations.items():
            server = GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)
            server.add_service(service, register)
            self.addresses[name] = f"127.0.0.1:{await server.start()}"
            self._servers[name] = server

    async def stop(self) -> None:
        for server in self._servers.values():
            await server.stop()
