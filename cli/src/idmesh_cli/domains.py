"""``idmesh domain add|list|verify|remove``: the email domains an account proves it controls.

``add`` claims a domain and prints the TXT record to publish; ``verify`` looks it up in DNS.
``add --verified`` is the operator's bootstrap from a shell on the deployment: verified at once,
without DNS, audited as the operator's doing.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from directory.domains.names import normalise
from idmesh.directory.v1 import directory_pb2 as pb
from idmesh_cli.errors import CliError
from idmesh_cli.output import table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime
from meshkit.errors import InvalidArgument

STATUS_NAMES: Final = {pb.DOMAIN_STATUS_PENDING: "pending", pb.DOMAIN_STATUS_VERIFIED: "verified"}
METHOD_NAMES: Final = {
    pb.DOMAIN_VERIFICATION_METHOD_DNS: "dns",
    pb.DOMAIN_VERIFICATION_METHOD_OPERATOR: "operator",
}


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "domain",
        aliases=["domains"],
        help="claim, verify and list the email domains of an account",
        description="An account proves it controls an email domain with a DNS TXT record; "
        "sign-in trusts an email's domain only once the account holds it verified.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    add = actions.add_parser(
        "add",
        parents=[common],
        help="claim a domain and print the TXT record to publish",
        description="Claim a domain (again: shows the existing claim) and print the TXT record "
        "that proves control of it.",
    )
    add.add_argument("--account", required=True, metavar="NAME", help="account name")
    add.add_argument("domain", metavar="DOMAIN", help="e.g. example.com")
    add.add_argument(
        "--verified",
        action="store_true",
        help="mark it verified now, without DNS: for an operator who knows the account "
        "controls it (audited as the operator's doing)",
    )
    add.set_defaults(handler=add_domain)

    listing = actions.add_parser(
        "list",
        parents=[common],
        help="list the domains of an account",
        description="List the domains an account has claimed, with their status and last check.",
    )
    listing.add_argument("--account", required=True, metavar="NAME", help="account name")
    listing.set_defaults(handler=list_domains)

    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="look the domain's TXT record up now",
        description="Look the TXT record up in DNS now; verified when it holds the value "
        "`idmesh domain add` printed.",
    )
    verify.add_argument("--account", required=True, metavar="NAME", help="account name")
    verify.add_argument("domain", metavar="DOMAIN", help="the domain (or its id)")
    verify.set_defaults(handler=verify_domain)

    remove = actions.add_parser(
        "remove",
        parents=[common],
        help="withdraw a claim",
        description="Withdraw the account's claim of a domain; sign-in no longer trusts it.",
    )
    remove.add_argument("--account", required=True, metavar="NAME", help="account name")
    remove.add_argument("domain", metavar="DOMAIN", help="the domain (or its id)")
    remove.set_defaults(handler=remove_domain)


def domain_dict(domain: pb.Domain) -> dict[str, Any]:
    """What ``--json`` prints: the API's shape (/api/v1/domains)."""

    def time(value: Any) -> str | None:
        text = timestamp(value, unset="")
        return text or None

    return {
        "id": domain.id,
        "account_id": domain.account_id,
        "domain": domain.domain,
        "status": STATUS_NAMES.get(domain.status, "unspecified"),
        "record_name": domain.record_name,
        "record_value": domain.record_value,
        "verification_method": METHOD_NAMES.get(domain.verification_method),
        "create_time": time(domain.create_time),
        "verify_time": time(domain.verify_time),
        "last_check_time": time(domain.last_check_time),
        "failing_since": time(domain.failing_since),
        "last_check_error": domain.last_check_error,
    }


async def _all(rt: Runtime, account_id: str) -> list[pb.Domain]:
    directory = rt.directory

    async def fetch(token: str) -> tuple[list[pb.Domain], str]:
        page = pb.PageRequest(page_size=PAGE_SIZE, page_token=token)
        response = await directory.call(
            directory.stub.ListDomains(pb.ListDomainsRequest(account_id=account_id, page=page))
        )
        return list(response.domains), response.page.next_page_token

    return await every_page(fetch)


async def _find(rt: Runtime, account: pb.Account, given: str) -> pb.Domain:
    """The account's claim named by ``given``: its domain (any spelling) or its id."""
    try:
        name = normalise(given)
    except InvalidArgument:
        name = ""
    for domain in await _all(rt, account.id):
        if given == domain.id or domain.domain == name:
            return domain
    raise CliError(f"account {account.name!r} has not claimed {given!r} (idmesh domain list)")


async def add_domain(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    directory = rt.directory
    response = await directory.call(
        directory.stub.ClaimDomain(
            pb.ClaimDomainRequest(
                account_id=account.id, domain=args.domain, verified=args.verified, actor=rt.actor()
            )
        )
    )
    domain = response.domain
    if rt.output.json_mode:
        rt.output.document(domain_dict(domain))
        return 0
    verb = "Claimed" if response.created else "Already claimed:"
    if domain.status == pb.DOMAIN_STATUS_VERIFIED:
        how = METHOD_NAMES.get(domain.verification_method, "")
        rt.output.result(f"{verb} {domain.domain} for account {account.name!r}: verified ({how}).")
        return 0
    rt.output.result(
        f"{verb} {domain.domain} for account {account.name!r} (pending).\n"
        "Publish this DNS record, then run `idmesh domain verify`:\n"
        f"  name:  {domain.record_name}\n"
        "  type:  TXT\n"
        f"  value: {domain.record_value}"
    )
    return 0


async def list_domains(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    domains = await _all(rt, account.id)
    if rt.output.json_mode:
        rt.output.document([domain_dict(d) for d in domains])
    elif not domains:
        rt.output.note(f"Account {account.name!r} has claimed no domain yet.")
    else:
        rt.output.result(
            table(
                ["DOMAIN", "STATUS", "VERIFIED", "LAST CHECK", "FAILING SINCE", "LAST ERROR"],
                [
                    [
                        d.domain,
                        STATUS_NAMES.get(d.status, "unspecified"),
                        timestamp(d.verify_time),
                        timestamp(d.last_check_time),
                        timestamp(d.failing_since),
                        d.last_check_error or "-",
                    ]
                    for d in domains
                ],
            )
        )
    return 0


async def verify_domain(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    found = await _find(rt, account, args.domain)
    directory = rt.directory
    response = await directory.call(
        directory.stub.VerifyDomain(
            pb.VerifyDomainRequest(account_id=account.id, domain_id=found.id, actor=rt.actor())
        )
    )
    domain = response.domain
    if rt.output.json_mode:
        rt.output.document(domain_dict(domain))
    else:
        rt.output.result(f"Verified {domain.domain} for account {account.name!r}.")
    return 0


async def remove_domain(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    found = await _find(rt, account, args.domain)
    directory = rt.directory
    await directory.call(
        directory.stub.DeleteDomain(
            pb.DeleteDomainRequest(account_id=account.id, domain_id=found.id, actor=rt.actor())
        )
    )
    if rt.output.json_mode:
        rt.output.document({"removed": found.domain, "id": found.id})
    else:
        rt.output.result(f"Removed {found.domain} from account {account.name!r}.")
    return 0
