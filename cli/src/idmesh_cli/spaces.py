"""``idmesh space create|list``: workspaces inside an account."""

from __future__ import annotations

import argparse

from idmesh.directory.v1 import directory_pb2
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "space",
        aliases=["spaces"],
        help="create and list spaces of an account",
        description="Spaces are named workspaces inside an account.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create_parser = actions.add_parser(
        "create", parents=[common], help="create a space", description="Create a space."
    )
    create_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    create_parser.add_argument("space", metavar="SPACE", help="space name, unique in the account")
    create_parser.add_argument("--description", default="", help="what the space is for")
    create_parser.set_defaults(handler=create)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list the spaces of an account",
        description="List the spaces of an account.",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.set_defaults(handler=list_spaces)


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    directory = rt.directory
    response = await directory.call(
        directory.stub.CreateSpace(
            directory_pb2.CreateSpaceRequest(
                space=directory_pb2.Space(
                    account_id=account.id, name=args.space, description=args.description
                ),
                actor=rt.actor(),
            )
        )
    )
    space = response.space
    if rt.output.json_mode:
        rt.output.document(message_dict(space))
    else:
        rt.output.result(
            f"Created space {space.name!r} in account {account.name!r} (id {space.id})."
        )
    return 0


async def list_spaces(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    directory = rt.directory

    async def fetch(token: str) -> tuple[list[directory_pb2.Space], str]:
        page = directory_pb2.PageRequest(page_size=PAGE_SIZE, page_token=token)
        response = await directory.call(
            directory.stub.ListSpaces(
                directory_pb2.ListSpacesRequest(account_id=account.id, page=page)
            )
        )
        return list(response.spaces), response.page.next_page_token

    spaces = await every_page(fetch)
    if rt.output.json_mode:
        rt.output.document([message_dict(space) for space in spaces])
    elif not spaces:
        rt.output.note(f"Account {account.name!r} has no spaces yet.")
    else:
        rt.output.result(
            table(
                ["NAME", "DESCRIPTION", "ID", "CREATED"],
                [[s.name, s.description, s.id, timestamp(s.create_time)] for s in spaces],
            )
        )
    return 0
