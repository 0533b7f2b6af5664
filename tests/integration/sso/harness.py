"""Helpers of the SSO integration tests: a browser-like client, tenants, traces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.support.directory import ADMIN, Stub

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub


def browser() -> aiohttp.ClientSession:
    """A cookie-keeping client; ``unsafe=True`` or cookies of IP hosts are dropped
    (docs/real-idps.md §7)."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        timeout=aiohttp.ClientTimeout(total=30),
    )


@dataclass(frozen=True)
class Tenant:
    account_id: str
    account_name: str
    connection: auth_pb2.Connection
    domain: str

    @property
    def connection_id(self) -> str:
        return self.connection.id


async def last_trace(auth: AuthServiceAsyncStub, account_id: str) -> auth_pb2.LoginTrace:
    listed = await auth.ListLoginTraces(
        auth_pb2.ListLoginTracesRequest(account_id=account_id, page_size=1)
    )
    assert listed.traces, "no login trace was recorded"
    return listed.traces[0]


async def verify_domain(directory: Stub, account_id: str, domain: str) -> None:
    """``domain`` verified for the account, as an operator bootstraps it (ClaimDomain with
    verified): a login links or creates a user by email only inside such a domain."""
    await directory.ClaimDomain(
        directory_pb2.ClaimDomainRequest(
            account_id=account_id, domain=domain, verified=True, actor=ADMIN
        )
    )


async def create_space(directory: Stub, account_id: str, name: str) -> directory_pb2.Space:
    response = await directory.CreateSpace(
        directory_pb2.CreateSpaceRequest(
            space=directory_pb2.Space(account_id=account_id, name=name), actor=ADMIN
        )
    )
    return response.space
