"""``idmesh setup-link create|list|revoke``: links for a customer's IT admin.

A setup link opens the self-serve setup wizard of one account (single sign-on with its email
domains, SCIM provisioning, or domains only), once, for one browser, until it expires or is
revoked. Its URL is printed once; every creation and revocation is in the audit log.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.protobuf import struct_pb2

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from idmesh_cli.connections import public_url
from idmesh_cli.durations import parse_duration
from idmesh_cli.errors import EXIT_USAGE, CliError
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.runtime import Runtime

DEFAULT_EXPIRES_IN: Final = timedelta(days=7)
SHOWN_ONCE: Final = (
    "Send this link to the customer's IT admin: it is shown only this once, opens the setup "
    "of this account for one browser, and can be revoked with `idmesh setup-link revoke`."
)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "setup-link",
        aliases=["setup-links"],
        help="create, list and revoke setup links for a customer's IT admin",
        description="A setup link lets a customer's IT admin connect their IdP themselves.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create_parser = actions.add_parser(
        "create",
        parents=[common],
        help="create a link (its URL is printed once)",
        description="Create a setup link. The URL is printed once, on stdout.",
    )
    create_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    create_parser.add_argument("--sso", action="store_true", help="single sign-on (and domains)")
    create_parser.add_argument("--scim", action="store_true", help="SCIM provisioning")
    create_parser.add_argument("--domains", action="store_true", help="email domains")
    create_parser.add_argument(
        "--expires-in",
        type=parse_duration,
        default=DEFAULT_EXPIRES_IN,
        metavar="DURATION",
        help="lifetime, e.g. 12h, 7d (default 7d, at most 30d)",
    )
    create_parser.set_defaults(handler=create)

    list_parser = actions.add_parser(
        "list", parents=[common], help="list the links of an account",
        description="List the setup links of an account, newest first (never their URLs).",
    )  # fmt: skip
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.set_defaults(handler=list_links)

    revoke_parser = actions.add_parser(
        "revoke", parents=[common], help="revoke a link",
        description="Revoke a setup link: it opens nothing more, at once.",
    )  # fmt: skip
    revoke_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    revoke_parser.add_argument("link_id", metavar="LINK_ID", help="the link's id")
    revoke_parser.set_defaults(handler=revoke)


def link_status(link: auth_pb2.SetupLink, now: datetime) -> str:
    if link.HasField("revoke_time"):
        return "revoked"
    if link.HasField("finish_time"):
        return "finished"
    if link.expire_time.ToDatetime(tzinfo=UTC) <= now:
        return "expired"
    return "opened" if link.HasField("open_time") else "active"


def _scopes(link: auth_pb2.SetupLink) -> str:
    return ",".join(name for name in ("sso", "scim", "domains") if getattr(link, name))


async def _audit(
    rt: Runtime, account_id: str, action: str, link_id: str, details: dict[str, Any]
) -> None:
    message = struct_pb2.Struct()
    message.update(details)
    directory = rt.directory
    await directory.call(
        directory.stub.RecordAuditEvent(
            directory_pb2.RecordAuditEventRequest(
                account_id=account_id, actor=rt.actor(), action=action,
                target_type="setup_link", target_id=link_id, details=message,
            )
        )
    )  # fmt: skip


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    if not (args.sso or args.scim or args.domains):
        raise CliError("name what the link may set up: --sso, --scim or --domains", EXIT_USAGE)
    account = await rt.account(args.account)
    request = auth_pb2.CreateSetupLinkRequest(
        account_id=account.id, sso=args.sso, scim=args.scim, domains=args.domains,
        created_by=rt.operator,
    )  # fmt: skip
    request.expire_time.FromDatetime(datetime.now(UTC) + args.expires_in)
    auth = rt.auth
    response = await auth.call(auth.stub.CreateSetupLink(request))
    link = response.link
    await _audit(rt, account.id, "setup_link.created", link.id,
                 {"sso": link.sso, "scim": link.scim, "domains": link.domains})  # fmt: skip
    url = f"{public_url(rt)}/setup/{response.secret}"
    if rt.output.json_mode:
        rt.output.document({**message_dict(link), "url": url})
    else:
        rt.output.note(
            f"Created setup link {link.id} for account {account.name!r} ({_scopes(link)}; "
            f"expires {timestamp(link.expire_time)})."
        )
        rt.output.result(url)
    rt.output.note(SHOWN_ONCE)
    return 0


async def list_links(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth
    response = await auth.call(
        auth.stub.ListSetupLinks(
            auth_pb2.ListSetupLinksRequest(account_id=account.id, include_inactive=True)
        )
    )
    now = datetime.now(UTC)
    links = list(response.links)
    if rt.output.json_mode:
        rt.output.document([{**message_dict(k), "status": link_status(k, now)} for k in links])
    elif not links:
        rt.output.note(f"Account {account.name!r} has no setup links.")
    else:
        rt.output.result(
            table(
                ["ID", "STATUS", "SCOPES", "CREATED", "EXPIRES", "CONNECTION"],
                [
                    [
                        k.id,
                        link_status(k, now),
                        _scopes(k),
                        timestamp(k.create_time),
                        timestamp(k.expire_time),
                        k.connection_id or "-",
                    ]
                    for k in links
                ],
            )
        )
    return 0


async def revoke(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth
    response = await auth.call(
        auth.stub.RevokeSetupLink(
            auth_pb2.RevokeSetupLinkRequest(account_id=account.id, link_id=args.link_id)
        )
    )
    await _audit(rt, account.id, "setup_link.revoked", response.link.id, {})
    if rt.output.json_mode:
        rt.output.document(message_dict(response.link))
    else:
        rt.output.result(f"Revoked setup link {response.link.id} of account {account.name!r}.")
    return 0
