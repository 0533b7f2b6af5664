"""``idmesh group create|list|set-idp-id``: groups of an account and their IdP identifier.

A group's IdP identifier is the IdP's id of the group (usually a GUID, the Object Id of an
Entra group): sign-ins assign and unassign users to the groups whose identifier is in their
groups claim (Torque guide, "Mapping Torque user groups to IdP groups").
"""

from __future__ import annotations

import argparse

from idmesh.directory.v1 import directory_pb2
from idmesh_cli.lookup import find_group
from idmesh_cli.output import message_dict, table
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "group",
        aliases=["groups"],
        help="create and list groups, map them to IdP groups",
        description="Groups grant space roles to their members; a group with an IdP "
        "identifier follows the IdP's group at every sign-in.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create_parser = actions.add_parser(
        "create", parents=[common], help="create a group", description="Create a group."
    )
    create_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    create_parser.add_argument("name", metavar="NAME", help="the group's display name")
    create_parser.add_argument(
        "--idp-id",
        default="",
        metavar="GUID",
        help="the IdP's id of the group, e.g. an Entra group's Object Id",
    )
    create_parser.set_defaults(handler=create)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list the groups of an account",
        description="List the groups of an account, oldest first.",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.set_defaults(handler=list_groups)

    idp_parser = actions.add_parser(
        "set-idp-id",
        parents=[common],
        help="set or clear a group's IdP identifier",
        description='Map a group to the IdP group with this identifier ("" clears it).',
    )
    idp_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    idp_parser.add_argument("group", metavar="GROUP", help="the group's id or display name")
    idp_parser.add_argument("idp_id", metavar="IDP_ID", help='the IdP\'s group id, "" to clear')
    idp_parser.set_defaults(handler=set_idp_id)


def _describe(group: directory_pb2.Group) -> str:
    mapped = (
        f"IdP identifier {group.idp_identifier}" if group.idp_identifier else "no IdP identifier"
    )
    return f"group {group.display_name!r} ({mapped}, id {group.id})"


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    directory = rt.directory
    response = await directory.call(
        directory.stub.CreateGroup(
            directory_pb2.CreateGroupRequest(
                group=directory_pb2.Group(
                    account_id=account.id, display_name=args.name, idp_identifier=args.idp_id
                ),
                actor=rt.actor(),
            )
        )
    )
    group = response.group
    if rt.output.json_mode:
        rt.output.document(message_dict(group))
    else:
        rt.output.result(f"Created {_describe(group)} in account {account.name!r}.")
    return 0


async def list_groups(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    directory = rt.directory

    async def fetch(token: str) -> tuple[list[directory_pb2.Group], str]:
        page = directory_pb2.PageRequest(page_size=PAGE_SIZE, page_token=token)
        response = await directory.call(
            directory.stub.ListGroups(
                directory_pb2.ListGroupsRequest(account_id=account.id, page=page)
            )
        )
        return list(response.groups), response.page.next_page_token

    groups = await every_page(fetch)
    if rt.output.json_mode:
        rt.output.document([message_dict(group) for group in groups])
    elif not groups:
        rt.output.note(f"Account {account.name!r} has no groups yet.")
    else:
        rt.output.result(
            table(
                ["NAME", "IDP IDENTIFIER", "MEMBERS", "ID"],
                [[g.display_name, g.idp_identifier or "-", g.member_count, g.id] for g in groups],
            )
        )
    return 0


async def set_idp_id(args: argparse.Namespace, rt: Runtime) -> int:
    """Writes the identifier at the version read: a concurrent change fails, never lost."""
    account = await rt.account(args.account)
    group = await find_group(rt, account, args.group)
    directory = rt.directory
    response = await directory.call(
        directory.stub.UpdateGroup(
            directory_pb2.UpdateGroupRequest(
                group=directory_pb2.Group(
                    account_id=account.id,
                    id=group.id,
                    display_name=group.display_name,
                    idp_identifier=args.idp_id.strip(),
                ),
                expected_version=group.version,
                actor=rt.actor(),
            )
        )
    )
    updated = response.group
    if rt.output.json_mode:
        rt.output.document(message_dict(updated))
    else:
        rt.output.result(f"Updated {_describe(updated)}.")
    return 0
