"""``idmesh oauth-client create|list|rotate|revoke``: OAuth clients of the client-credentials
grant (RFC 6749 §4.4), what a governance tool such as ConductorOne's connector is given."""

from __future__ import annotations

import argparse

from idmesh.auth.v1 import auth_pb2
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime

SHOWN_ONCE = (
    "Store the client secret now: it is shown only this once and cannot be retrieved again. "
    "Exchange the client id and secret at POST /oauth/token (grant_type=client_credentials)."
)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "oauth-client",
        aliases=["oauth-clients"],
        help="create, list, rotate and revoke OAuth clients of an account",
        description="OAuth clients exchange a client id and secret for short-lived access "
        "tokens (the client-credentials grant), e.g. for a governance connector.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create_parser = actions.add_parser(
        "create",
        parents=[common],
        help="create a client (its secret is printed once)",
        description="Create an OAuth client; stdout gets its client id and secret, one per line.",
    )
    create_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    create_parser.add_argument(
        "--permission",
        dest="permissions",
        action="append",
        required=True,
        metavar="PERMISSION",
        help="a permission such as users:read; repeat for several",
    )
    create_parser.add_argument("--description", default="", help="what the client is for")
    create_parser.set_defaults(handler=create)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list the clients of an account",
        description="List the OAuth clients of an account (never their secrets).",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.add_argument(
        "--include-revoked", action="store_true", help="also list revoked clients"
    )
    list_parser.set_defaults(handler=list_clients)

    for name, handler, text in (
        ("rotate", rotate, "give the client a new secret (the old one stops working)"),
        ("revoke", revoke, "revoke the client: it gets no more access tokens"),
    ):
        parser = actions.add_parser(name, parents=[common], help=text, description=text)
        parser.add_argument("--account", required=True, metavar="NAME", help="account name")
        parser.add_argument("client_id", metavar="CLIENT_ID", help="the client id (idmc_...)")
        parser.set_defaults(handler=handler)


def _status(client: auth_pb2.OAuthClient) -> str:
    return "revoked" if client.HasField("revoke_time") else "active"


def _print_secret(rt: Runtime, client: auth_pb2.OAuthClient, secret: str, verb: str) -> None:
    if rt.output.json_mode:
        rt.output.document({"client": message_dict(client), "client_secret": secret})
    else:
        rt.output.note(
            f"{verb} OAuth client {client.id} (permissions: {', '.join(client.permissions)})."
        )
        rt.output.result(f"client_id: {client.id}\nclient_secret: {secret}")
    rt.output.note(SHOWN_ONCE)


async def create(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth
    response = await auth.call(
        auth.stub.CreateOAuthClient(
            auth_pb2.CreateOAuthClientRequest(
                account_id=account.id,
                description=args.description,
                permissions=args.permissions,
                created_by=rt.operator,
            )
        )
    )
    _print_secret(rt, response.client, response.client_secret, "Created")
    return 0


async def list_clients(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth

    async def fetch(page_token: str) -> tuple[list[auth_pb2.OAuthClient], str]:
        response = await auth.call(
            auth.stub.ListOAuthClients(
                auth_pb2.ListOAuthClientsRequest(
                    account_id=account.id,
                    page_size=PAGE_SIZE,
                    page_token=page_token,
                    include_revoked=args.include_revoked,
                )
            )
        )
        return list(response.clients), response.next_page_token

    clients = await every_page(fetch)
    if rt.output.json_mode:
        rt.output.document([{**message_dict(c), "status": _status(c)} for c in clients])
    elif not clients:
        rt.output.note(f"Account {account.name!r} has no OAuth clients.")
    else:
        rt.output.result(
            table(
                ["CLIENT ID", "STATUS", "PERMISSIONS", "DESCRIPTION", "CREATED", "LAST USED"],
                [
                    [
                        c.id,
                        _status(c),
                        ",".join(c.permissions),
                        c.description,
                        timestamp(c.create_time),
                        timestamp(c.last_used_time, unset="never"),
                    ]
                    for c in clients
                ],
            )
        )
    return 0


async def rotate(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth
    response = await auth.call(
        auth.stub.RotateOAuthClientSecret(
            auth_pb2.RotateOAuthClientSecretRequest(account_id=account.id, client_id=args.client_id)
        )
    )
    _print_secret(rt, response.client, response.client_secret, "Rotated the secret of")
    return 0


async def revoke(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    auth = rt.auth
    response = await auth.call(
        auth.stub.RevokeOAuthClient(
            auth_pb2.RevokeOAuthClientRequest(account_id=account.id, client_id=args.client_id)
        )
    )
    if rt.output.json_mode:
        rt.output.document(message_dict(response.client))
    else:
        rt.output.result(f"Revoked OAuth client {response.client.id} of account {account.name!r}.")
    return 0
