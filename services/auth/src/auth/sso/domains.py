"""What auth asks directory about email domains: who has verified one (home-realm discovery),
and a claim for every domain a connection is to serve (so the admin gets the TXT record to
publish, and a domain another account has verified, or a free-mail one, is refused up front).

Directory owns verification (directory.domains); auth keeps which of its connections serves a
domain within the account (auth.connection_domains).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import grpc

from idmesh.directory.v1 import directory_pb2
from meshkit.errors import ServiceError, from_rpc_error

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

DEADLINE_SECONDS: Final = 5.0


async def verified_owner(directory: DirectoryServiceAsyncStub, domain: str) -> uuid.UUID | None:
    """The account holding ``domain`` verified; None when no account does."""
    try:
        found = await directory.ResolveDomain(
            directory_pb2.ResolveDomainRequest(domain=domain), timeout=DEADLINE_SECONDS
        )
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return None
        raise from_rpc_error(error) from None
    return uuid.UUID(found.account_id)


async def claim(
    directory: DirectoryServiceAsyncStub,
    account_id: uuid.UUID,
    domains: Iterable[str],
    *,
    field: str,
    actor: directory_pb2.Actor,
) -> None:
    """Claims each domain for the account (idempotent); the first refusal is raised as
    directory said it (consumer_domain, domain_taken, invalid), naming ``field``."""
    for domain in domains:
        try:
            await directory.ClaimDomain(
                directory_pb2.ClaimDomainRequest(
                    account_id=str(account_id), domain=domain, actor=actor
                ),
                timeout=DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            refused: ServiceError = from_rpc_error(error)
            refused.field = field
            raise refused from None
