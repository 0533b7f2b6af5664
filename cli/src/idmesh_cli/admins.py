"""``idmesh admin create --account A --email E``: a bootstrap admin, the one kind of user with
a local password (for the admin pages before SSO is configured).

The password is read from stdin (one line), never from an argument, so it stays out of the
shell history and the process list: ``idmesh admin create ... < password-file`` or typed at the
prompt. The user is created in the directory with the Account Admin role (active), then auth
stores an argon2id hash bound to that user id.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from idmesh_cli.errors import CliError
from idmesh_cli.runtime import Runtime

ACCOUNT_ADMIN = "Account Admin"
MIN_PASSWORD_CHARS = 12


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "admin",
        aliases=["admins"],
        help="create a bootstrap admin with a local password",
        description="Bootstrap admins sign in to the admin pages with a password.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)
    create_parser = actions.add_parser(
        "create",
        parents=[common],
        help="create an Account Admin user with a password read from stdin",
        description="Create an Account Admin user with a local password. The password is read "
        "from stdin (one line; at least 12 characters).",
    )
    create_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    create_parser.add_argument("--email", required=True, help="the admin's email (user name)")
    create_parser.set_defaults(handler=create)


def read_password() -> str:
    """One line of stdin, without its newline; a prompt without echo on a terminal."""
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


async def _account_admin_role(rt: Runtime, account_id: str) -> str:
    directory = rt.directory
    response = await directory.call(
        directory.stub.ListRoles(
            directory_pb2.ListRolesRequest(
                account_id=account_id,
                filter=directory_pb2.Filter(
                    comparison=directory_pb2.Comparison(
                        attribute="name",
                        operator=directory_pb2.OPERATOR_EQUAL,
                        value=directory_pb2.FilterValue(string_value=ACCOUNT_ADMIN),
                    )
                ),
            )
        )
    )
    if not response.roles:
        raise CliError(f"the account has no {ACCOUNT_ADMIN!r} role")
    role_id: str = response.roles[0].id
    return role_id


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    password = read_password()
    if not password:
        raise CliError("no password on stdin")
    # auth enforces the same rule; checked first so that no user is created without a password.
    if len(password) < MIN_PASSWORD_CHARS:
        raise CliError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
    account = await rt.account(args.account)
    role_id = await _account_admin_role(rt, account.id)
    directory = rt.directory
    created = await directory.call(
        directory.stub.CreateUser(
            directory_pb2.CreateUserRequest(
                user=directory_pb2.User(
                    account_id=account.id,
                    user_name=args.email,
                    emails=[directory_pb2.MultiValue(value=args.email, primary=True, type="work")],
                    account_role_id=role_id,
                    active=True,
                ),
                initial_status=directory_pb2.USER_STATUS_ACTIVE,
                actor=rt.actor(),
            )
        )
    )
    user = created.user
    auth = rt.auth
    await auth.call(
        auth.stub.SetLocalPassword(
            auth_pb2.SetLocalPasswordRequest(
                account_id=account.id, user_id=user.id, email=args.email, password=password
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document({"user_id": user.id, "email": args.email, "role": ACCOUNT_ADMIN})
    else:
        rt.output.result(
            f"Created admin {args.email!r} ({user.id}) of account {account.name!r} with the "
            f"{ACCOUNT_ADMIN} role and a local password."
        )
    return 0
