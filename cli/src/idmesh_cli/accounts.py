"""``idmesh account create|list|update``: tenants."""

from __future__ import annotations

import argparse

from idmesh.directory.v1 import directory_pb2
from idmesh_cli.errors import EXIT_USAGE, CliError
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "account",
        aliases=["accounts"],
        help="create, list and update accounts (tenants)",
        description="Accounts are tenants: one customer organisation each.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create_parser = actions.add_parser(
        "create", parents=[common], help="create an account", description="Create an account."
    )
    create_parser.add_argument("name", metavar="NAME", help="unique lower-case slug, e.g. acme")
    create_parser.add_argument("--display-name", default="", help="human-readable name")
    create_parser.set_defaults(handler=create)

    list_parser = actions.add_parser(
        "list", parents=[common], help="list accounts", description="List every account."
    )
    list_parser.set_defaults(handler=list_accounts)

    update_parser = actions.add_parser(
        "update",
        parents=[common],
        help="change an account's settings",
        description="Change an account's settings; those not given stay as they are.",
    )
    update_parser.add_argument("name", metavar="NAME", help="the account's name")
    update_parser.add_argument("--display-name", default=None, help="human-readable name")
    update_parser.add_argument(
        "--scim-group-patch-returns-resource",
        type=_boolean,
        metavar="true|false",
        default=None,
        help="answer a SCIM Group PATCH with 200 and the whole group (true, the default, which "
        "scim-sanity, Entra ID and Okta accept), or 204 No Content (false, as Entra ID "
        "recommends for very large groups)",
    )
    update_parser.set_defaults(handler=update)


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {raw!r}")


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    directory = rt.directory
    response = await directory.call(
        directory.stub.CreateAccount(
            directory_pb2.CreateAccountRequest(
                name=args.name, display_name=args.display_name, actor=rt.actor()
            )
        )
    )
    account = response.account
    if rt.output.json_mode:
        rt.output.document(message_dict(account))
    else:
        rt.output.result(f"Created account {account.name!r} (id {account.id}).")
    return 0


async def list_accounts(args: argparse.Namespace, rt: Runtime) -> int:
    directory = rt.directory

    async def fetch(token: str) -> tuple[list[directory_pb2.Account], str]:
        page = directory_pb2.PageRequest(page_size=PAGE_SIZE, page_token=token)
        response = await directory.call(
            directory.stub.ListAccounts(directory_pb2.ListAccountsRequest(page=page))
        )
        return list(response.accounts), response.page.next_page_token

    accounts = await every_page(fetch)
    if rt.output.json_mode:
        rt.output.document([message_dict(account) for account in accounts])
    elif not accounts:
        rt.output.note("No accounts yet: create one with `idmesh account create NAME`.")
    else:
        rt.output.result(
            table(
                ["NAME", "DISPLAY NAME", "ID", "CREATED"],
                [[a.name, a.display_name, a.id, timestamp(a.create_time)] for a in accounts],
            )
        )
    return 0


async def update(args: argparse.Namespace, rt: Runtime) -> int:
    """Reads the account, changes what was asked, writes it back at the version read (a
    concurrent change fails rather than being overwritten)."""
    account = await rt.account(args.name)
    if args.display_name is None and args.scim_group_patch_returns_resource is None:
        raise CliError("nothing to change: give --display-name or a setting", EXIT_USAGE)
    settings = directory_pb2.AccountSettings()
    settings.CopyFrom(account.settings)
    if args.scim_group_patch_returns_resource is not None:
        settings.scim_group_patch_returns_resource = args.scim_group_patch_returns_resource
    directory = rt.directory
    response = await directory.call(
        directory.stub.UpdateAccount(
            directory_pb2.UpdateAccountRequest(
                account_id=account.id,
                display_name=account.display_name
                if args.display_name is None
                else args.display_name,
                settings=settings,
                expected_version=account.version,
                actor=rt.actor(),
            )
        )
    )
    updated = response.account
    if rt.output.json_mode:
        rt.output.document(message_dict(updated))
    else:
        answer = (
            "200 with the group"
            if updated.settings.scim_group_patch_returns_resource
            else "204 No Content"
        )
        rt.output.result(f"Updated account {updated.name!r}: SCIM Group PATCH answers {answer}.")
    return 0
