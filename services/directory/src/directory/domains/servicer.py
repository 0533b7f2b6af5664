"""DirectoryService's domain RPCs: ClaimDomain, GetDomain, ListDomains, VerifyDomain,
DeleteDomain, ResolveDomain.

A mixin of DirectoryServicer (which holds ``stores`` and ``dns``): validate, look DNS up when
asked to verify, store, convert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import asyncpg
import grpc

from directory import convert, validate
from directory.domains import names
from directory.domains.challenge import record_name, record_value
from directory.store.domains import BY_DNS, BY_OPERATOR, VERIFIED
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import FailedPrecondition

if TYPE_CHECKING:
    from directory.domains.dns import DnsChecker
    from directory.store import Stores

Context = grpc.aio.ServicerContext[Any, Any]

_STATUSES: Final = {"pending": pb.DOMAIN_STATUS_PENDING, VERIFIED: pb.DOMAIN_STATUS_VERIFIED}
_METHODS: Final = {
    BY_DNS: pb.DOMAIN_VERIFICATION_METHOD_DNS,
    BY_OPERATOR: pb.DOMAIN_VERIFICATION_METHOD_OPERATOR,
}


def domain_message(row: asyncpg.Record) -> pb.Domain:
    return pb.Domain(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        domain=row["domain"],
        status=_STATUSES.get(row["status"], pb.DOMAIN_STATUS_UNSPECIFIED),
        record_name=record_name(row["domain"]),
        record_value=record_value(row["challenge_token"]),
        verification_method=_METHODS.get(
            row["verification_method"], pb.DOMAIN_VERIFICATION_METHOD_UNSPECIFIED
        ),
        create_time=convert.timestamp(row["create_time"]),
        verify_time=convert.timestamp(row["verify_time"]),
        last_check_time=convert.timestamp(row["last_check_time"]),
        failing_since=convert.timestamp(row["failing_since"]),
        last_check_error=row["last_check_error"],
        created_by=row["created_by"],
    )


class DomainVerification:
    stores: Stores
    dns: DnsChecker

    async def ClaimDomain(
        self, request: pb.ClaimDomainRequest, context: Context
    ) -> pb.ClaimDomainResponse:
        row, created = await self.stores.domains.claim(
            validate.account_id(request.account_id),
            names.claimable(request.domain),
            request.verified,
            convert.actor(request.actor),
        )
        return pb.ClaimDomainResponse(domain=domain_message(row), created=created)

    async def GetDomain(
        self, request: pb.GetDomainRequest, context: Context
    ) -> pb.GetDomainResponse:
        row = await self.stores.domains.get(
            validate.account_id(request.account_id),
            validate.target_id(request.domain_id, "domain_id", "domain"),
        )
        return pb.GetDomainResponse(domain=domain_message(row))

    async def ListDomains(
        self, request: pb.ListDomainsRequest, context: Context
    ) -> pb.ListDomainsResponse:
        page = await self.stores.domains.list(
            validate.account_id(request.account_id),
            request.filter if request.HasField("filter") else None,
            request.page,
        )
        return pb.ListDomainsResponse(
            domains=[domain_message(r) for r in page.rows], page=convert.page_response(page)
        )

    async def VerifyDomain(
        self, request: pb.VerifyDomainRequest, context: Context
    ) -> pb.VerifyDomainResponse:
        """Looks the TXT record up now; a failure is recorded on the domain, then refused."""
        account_id = validate.account_id(request.account_id)
        domain_id = validate.target_id(request.domain_id, "domain_id", "domain")
        current = await self.stores.domains.get(account_id, domain_id)
        # A claim made before its domain joined the free-mail list (or by migration 0004 from
        # a connection's domains) is never verified either.
        names.claimable(current["domain"])
        check = await self.dns.check(current["domain"], current["challenge_token"])
        row = await self.stores.domains.record_check(
            account_id, domain_id, check, convert.actor(request.actor)
        )
        if not check.passed:
            raise FailedPrecondition(
                f"{row['domain']} is not verified: {check.error}", reason=check.reason
            )
        return pb.VerifyDomainResponse(domain=domain_message(row))

    async def DeleteDomain(
        self, request: pb.DeleteDomainRequest, context: Context
    ) -> pb.DeleteDomainResponse:
        await self.stores.domains.delete(
            validate.account_id(request.account_id),
            validate.target_id(request.domain_id, "domain_id", "domain"),
            convert.actor(request.actor),
        )
        return pb.DeleteDomainResponse()

    async def ResolveDomain(
        self, request: pb.ResolveDomainRequest, context: Context
    ) -> pb.ResolveDomainResponse:
        row = await self.stores.domains.resolve(names.normalise(request.domain))
        return pb.ResolveDomainResponse(account_id=str(row["account_id"]), domain_id=str(row["id"]))
