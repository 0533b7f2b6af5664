"""``idmesh token create|list|revoke``: API tokens (SCIM clients, the admin API)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from idmesh.auth.v1 import auth_pb2
from idmesh_cli.durations import parse_duration
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime

SHOWN_ONCE = (
    "Store this secret now: it is shown only this once and cannot be retrieved again. "
    "Treat it like a password."
)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "token",
        aliases=["tokens"],
        help="create, list and revoke API tokens of an account",
        description="API tokens authenticate SCIM clients and admin API callers.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create_parser = actions.add_parser(
        "create",
        parents=[common],
        help="create a token (its secret is printed once)",
        description=(
            "Create an API token. The secret is printed once, on stdout; notes go to stderr, "
            "so SECRET=$(idmesh token create ...) captures only the secret."
        ),
    )
    create_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    create_parser.add_argument(
        "--permission",
        dest="permissions",
        action="append",
        required=True,
        metavar="PERMISSION",
        help="a permission such as users:manage; repeat for several",
    )
    create_parser.add_argument("--description", default="", help="what the token is for")
    create_parser.add_argument(
        "--expires-in",
        type=parse_duration,
        metavar="DURATION",
        help="lifetime, e.g. 30m, 12h, 90d, 52w (default: never expires)",
    )
    create_parser.set_defaults(handler=create)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list the tokens of an account",
        description="List the tokens of an account (never their secrets).",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.add_argument(
        "--include-revoked", action="store_true", help="also list revoked tokens"
    )
    list_parser.set_defaults(handler=list_tokens)

    revoke_parser = actions.add_parser(
        "revoke",
        parents=[common],
        help="revoke a token",
        description="Revoke a token: it stops working at once.",
    )
    revoke_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    revoke_parser.add_argument("token_id", metavar="TOKEN_ID", help="the token's id")
    revoke_parser.set_defaults(handler=revoke)


def token_status(token: auth_pb2.ApiToken, now: datetime) -> str:
    """ "revoked", "expired" or "active"."""
    if token.HasField("revoke_time"):
        return "revoked"
    if token.HasField("expire_time") and token.expire_time.ToDatetime(tzinfo=UTC) <= now:
        return "expired"
    return "active"


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    request = auth_pb2.CreateApiTokenRequest(
        account_id=account.id,
        description=args.description,
        permissions=args.permissions,
        created_by=rt.operator,
    )
    if args.expires_in is not None:
        expire = timestamp_pb2.Timestamp()
        expire.FromDatetime(datetime.now(UTC) + args.expires_in)
        request.expire_time.CopyFrom(expire)
    auth = rt.auth
    response = await auth.call(auth.stub.CreateApiToken(request))
    token = response.token
    if rt.output.json_mode:
        rt.output.document({"token": message_dict(token), "secret": response.secret})
    else:
        expiry = timestamp(token.expire_time, unset="never")
        rt.output.note(
            f"Created API token {token.id} for account {account.name!r} "
            f"(permissions: {', '.join(token.permissions)}; expires: {expiry})."
        )
        rt.output.result(response.secret)
    rt.output.note(SHOWN_ONCE)
    return 0


async def list_tokens(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth

    async def fetch(page_token: str) -> tuple[list[auth_pb2.ApiToken], str]:
        response = await auth.call(
            auth.stub.ListApiTokens(
                auth_pb2.ListApiTokensRequest(
                    account_id=account.id,
                    page_size=PAGE_SIZE,
                    page_token=page_token,
                    include_revoked=args.include_revoked,
                )
            )
        )
        return list(response.tokens), response.next_page_token

    tokens = await every_page(fetch)
    now = datetime.now(UTC)
    if rt.output.json_mode:
        rt.output.document(
            [{**message_dict(token), "status": token_status(token, now)} for token in tokens]
        )
    elif not tokens:
        rt.output.note(f"Account {account.name!r} has no API tokens.")
    else:
        rt.output.result(
            table(
                ["ID", "STATUS", "PERMISSIONS", "DESCRIPTION", "CREATED", "EXPIRES", "LAST USED"],
                [
                    [
                        t.id,
                        token_status(t, now),
                        ",".join(t.permissions),
                        t.description,
                        timestamp(t.create_time),
                        timestamp(t.expire_time, unset="never"),
                        timestamp(t.last_used_time, unset="never"),
                    ]
                    for t in tokens
                ],
            )
        )
    return 0


async def revoke(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth
    response = await auth.call(
        auth.stub.RevokeApiToken(
            auth_pb2.RevokeApiTokenRequest(account_id=account.id, token_id=args.token_id)
        )
    )
    if rt.output.json_mode:
        rt.output.document(message_dict(response.token))
    else:
        rt.output.result(f"Revoked API token {response.token.id} of account {account.name!r}.")
    return 0
