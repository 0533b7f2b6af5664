"""Where a setup stands: the account's domains, the link's connection and SCIM token."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from gateway.setup.session import Setup
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb


@dataclass(frozen=True)
class WizardState:
    account_name: str
    domains: list[pb.Domain]
    connection: auth_pb2.Connection | None

    @property
    def verified_domains(self) -> list[str]:
        return [d.domain for d in self.domains if d.status == pb.DOMAIN_STATUS_VERIFIED]


async def account_domains(setup: Setup) -> list[pb.Domain]:
    listed = await setup.clients.directory.ListDomains(
        pb.ListDomainsRequest(account_id=setup.account_id, page=pb.PageRequest(page_size=100))
    )
    return list(listed.domains)


async def link_connection(setup: Setup) -> auth_pb2.Connection | None:
    """The connection the wizard created through this link (None before it exists)."""
    if not setup.link.connection_id:
        return None
    try:
        found = await setup.clients.auth.GetConnection(
            auth_pb2.GetConnectionRequest(
                account_id=setup.account_id, connection_id=setup.link.connection_id
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return None  # reserved, not created yet
        raise
    return found.connection


async def wizard_state(setup: Setup) -> WizardState:
    account = await setup.clients.directory.GetAccount(
        pb.GetAccountRequest(account_id=setup.account_id)
    )
    return WizardState(
        account_name=account.account.display_name or account.account.name,
        domains=await account_domains(setup) if setup.link.domains else [],
        connection=await link_connection(setup) if setup.link.sso else None,
    )
