"""``/api/v1/domains``: the email domains the account proves it controls.

Claim a domain, publish the TXT record the answer names (``record_name``, ``record_value``),
then verify it; sign-in trusts an email's domain only when the account holds it verified. A
domain verified by another account is 409 (``domain_taken``); free-mail domains and malformed
names are 400; a verification that does not find the record is 409, its detail naming the
record and the exact value expected.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.api import schemas
from gateway.api.query import Param, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import obj, required_string, string
from gateway.api.values import enum_name, json_response, no_content, timestamp
from idmesh.directory.v1 import directory_pb2 as pb

STATUS_NAMES: Final = {
    pb.DOMAIN_STATUS_PENDING: "pending",
    pb.DOMAIN_STATUS_VERIFIED: "verified",
}
METHOD_NAMES: Final = {
    pb.DOMAIN_VERIFICATION_METHOD_DNS: "dns",
    pb.DOMAIN_VERIFICATION_METHOD_OPERATOR: "operator",
}

DOMAIN = schemas.define(
    "Domain",
    obj(
        {
            "id": schemas.ID,
            "account_id": schemas.ID,
            "domain": string(description="Lower-case ASCII (IDNA A-labels), no trailing dot."),
            "status": {"type": "string", "enum": list(STATUS_NAMES.values())},
            "record_name": string(description="The TXT record to publish: its owner name."),
            "record_value": string(description="The TXT record's exact value."),
            "verification_method": {
                "type": ["string", "null"],
                "enum": [*METHOD_NAMES.values(), None],
                "description": "dns (re-checked daily) or operator (vouched for from a shell).",
            },
            "create_time": schemas.TIMESTAMP,
            "verify_time": schemas.NULLABLE_TIMESTAMP,
            "last_check_time": schemas.NULLABLE_TIMESTAMP,
            "failing_since": {
                **schemas.NULLABLE_TIMESTAMP,
                "description": "Start of the current run of failed checks of a verified domain.",
            },
            "last_check_error": string(
                schemas.TEXT_LENGTH, description="Why the last check failed; empty if it passed."
            ),
        },
        required=(
            "id",
            "account_id",
            "domain",
            "status",
            "record_name",
            "record_value",
            "verification_method",
            "create_time",
            "verify_time",
            "last_check_time",
            "failing_since",
            "last_check_error",
        ),
    ),
)
schemas.define(
    "DomainClaim",
    obj(
        {"domain": required_string(description="e.g. example.com; internationalised names too.")},
        required=("domain",),
        additionalProperties=False,
    ),
)
schemas.page_of("DomainList", DOMAIN)


def domain_json(domain: pb.Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "account_id": domain.account_id,
        "domain": domain.domain,
        "status": enum_name(STATUS_NAMES, domain.status),
        "record_name": domain.record_name,
        "record_value": domain.record_value,
        "verification_method": METHOD_NAMES.get(domain.verification_method),
        "create_time": timestamp(domain.create_time),
        "verify_time": timestamp(domain.verify_time),
        "last_check_time": timestamp(domain.last_check_time),
        "failing_since": timestamp(domain.failing_since),
        "last_check_error": domain.last_check_error,
    }


@endpoint(
    "List domains",
    description="Oldest first.",
    query=filters(
        Param("domain", "Exact domain, lower-case ASCII.", attribute="domain"),
        Param(
            "status",
            "Only domains in this status.",
            values=("pending", "verified"),
            attribute="status",
        ),
    ),
    response="DomainList",
)
async def list_domains(call: Call) -> web.Response:
    response = await call.directory.ListDomains(
        pb.ListDomainsRequest(
            account_id=call.account_id, filter=call.query.filter(), page=call.query.page()
        )
    )
    return list_response([domain_json(d) for d in response.domains], response.page.next_page_token)


@endpoint("Get a domain", response="Domain")
async def get_domain(call: Call) -> web.Response:
    response = await call.directory.GetDomain(
        pb.GetDomainRequest(account_id=call.account_id, domain_id=call.path("domain_id"))
    )
    return json_response(domain_json(response.domain))


@endpoint(
    "Claim a domain",
    description="Answers the TXT record to publish before verifying. Claiming a domain the "
    "account already claimed answers that claim (200). 409 `domain_taken` when another account "
    "holds the domain verified; 400 for a free-mail or consumer domain.",
    body="DomainClaim",
    example={"domain": "example.com"},
    response="Domain",
    status=201,
    idempotent_create=True,
)
async def claim_domain(call: Call) -> web.Response:
    response = await call.directory.ClaimDomain(
        pb.ClaimDomainRequest(
            account_id=call.account_id, domain=call.body["domain"], actor=call.actor
        )
    )
    domain = response.domain
    location = f"{call.request.path}/{domain.id}"
    if not response.created:
        return json_response(domain_json(domain), location=location)
    return json_response(domain_json(domain), status=201, location=location)


@endpoint(
    "Verify a domain",
    description="Looks the TXT record up in DNS now. Found: the domain is verified. Not "
    "found: 409, the detail naming the record and the exact value expected; the failure is "
    "also recorded on the domain (`last_check_error`) and it keeps its status.",
    response="Domain",
    conflict=True,
)
async def verify_domain(call: Call) -> web.Response:
    response = await call.directory.VerifyDomain(
        pb.VerifyDomainRequest(
            account_id=call.account_id, domain_id=call.path("domain_id"), actor=call.actor
        )
    )
    return json_response(domain_json(response.domain))


@endpoint(
    "Delete a domain",
    description="Withdraws the claim; a verified domain is no longer trusted at sign-in.",
    status=204,
)
async def delete_domain(call: Call) -> web.Response:
    await call.directory.DeleteDomain(
        pb.DeleteDomainRequest(
            account_id=call.account_id, domain_id=call.path("domain_id"), actor=call.actor
        )
    )
    return no_content()
