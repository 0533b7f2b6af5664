"""``idmesh user list|deactivate|reactivate``: the users of an account, as SCIM and sign-ins
provisioned them."""

from __future__ import annotations

import argparse

from idmesh.directory.v1 import directory_pb2
from idmesh_cli.lookup import equals, find_user
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime

STATUSES = {
    "pending": directory_pb2.USER_STATUS_PENDING,
    "active": directory_pb2.USER_STATUS_ACTIVE,
    "deactivated": directory_pb2.USER_STATUS_DEACTIVATED,
}
STATUS_NAMES = {value: name for name, value in STATUSES.items()}


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "user",
        aliases=["users"],
        help="list, deactivate and reactivate users of an account",
        description="Users come from the IdP (SCIM or first sign-in). A deactivated user can "
        "no longer sign in and holds no access.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list the users of an account",
        description="List the users of an account, oldest first.",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.add_argument(
        "--status", choices=sorted(STATUSES), help="only users with this status"
    )
    list_parser.set_defaults(handler=list_users)

    for verb, active, description in (
        ("deactivate", False, "Deactivate a user: no sign-in, no access; memberships stay."),
        ("reactivate", True, "Reactivate a deactivated user."),
    ):
        parser = actions.add_parser(
            verb, parents=[common], help=description.split(":")[0].lower(), description=description
        )
        parser.add_argument("--account", required=True, metavar="NAME", help="account name")
        parser.add_argument("user", metavar="USER", help="the user's id or userName")
        parser.set_defaults(handler=set_active, active=active)


def _status(user: directory_pb2.User) -> str:
    return STATUS_NAMES.get(user.status, "unknown")


async def list_users(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    directory = rt.directory
    filter_ = equals("status", args.status) if args.status else None

    async def fetch(token: str) -> tuple[list[directory_pb2.User], str]:
        page = directory_pb2.PageRequest(page_size=PAGE_SIZE, page_token=token)
        response = await directory.call(
            directory.stub.ListUsers(
                directory_pb2.ListUsersRequest(account_id=account.id, filter=filter_, page=page)
            )
        )
        return list(response.users), response.page.next_page_token

    users = await every_page(fetch)
    if rt.output.json_mode:
        rt.output.document([message_dict(user) for user in users])
    elif not users:
        which = f" with status {args.status}" if args.status else ""
        rt.output.note(f"Account {account.name!r} has no users{which}.")
    else:
        rt.output.result(
            table(
                ["USER NAME", "DISPLAY NAME", "STATUS", "LAST LOGIN", "ID"],
                [
                    [u.user_name, u.display_name, _status(u), timestamp(u.last_login_time), u.id]
                    for u in users
                ],
            )
        )
    return 0


async def set_active(args: argparse.Namespace, rt: Runtime) -> int:
    """Writes the user back with ``active`` changed, at the version read (a concurrent change
    fails rather than being overwritten); a user already so is left unchanged."""
    account = await rt.account(args.account)
    user = await find_user(rt, account, args.user)
    verb = "reactivated" if args.active else "deactivated"
    if user.active != args.active:
        changed = directory_pb2.User()
        changed.CopyFrom(user)
        changed.active = args.active
        directory = rt.directory
        response = await directory.call(
            directory.stub.UpdateUser(
                directory_pb2.UpdateUserRequest(
                    user=changed, expected_version=user.version, actor=rt.actor()
                )
            )
        )
        user = response.user
        message = f"User {user.user_name!r} {verb} (status {_status(user)})."
    else:
        message = f"User {user.user_name!r} is already {'active' if args.active else verb}."
    if rt.output.json_mode:
        rt.output.document(message_dict(user))
    else:
        rt.output.result(message)
    return 0
