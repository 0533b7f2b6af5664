"""``idmesh scim log``: an account's SCIM provisioning log, newest first (what Entra ID calls its
provisioning logs): which token sent what, how it ended, how long it took."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

import grpc

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from idmesh_cli.errors import CliError, rpc_failure
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.runtime import Runtime

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Outcome names as stored and filtered on (directory.proto ProvisioningOutcome).
OUTCOMES = ("success", "rejected", "failed")
_OUTCOME_NAMES = {
    directory_pb2.PROVISIONING_OUTCOME_SUCCESS: "success",
    directory_pb2.PROVISIONING_OUTCOME_REJECTED: "rejected",
    directory_pb2.PROVISIONING_OUTCOME_FAILED: "failed",
}


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "scim",
        help="read an account's SCIM provisioning log",
        description="SCIM provisioning: what the account's IdP clients sent and how it ended.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)
    log_parser = actions.add_parser(
        "log",
        parents=[common],
        help="the latest SCIM requests of an account, newest first",
        description=(
            "The latest SCIM requests of an account, newest first: token, method, resource, "
            "outcome, HTTP status, duration and, for a refusal, its category. Events reach the "
            "log within a fraction of a second of the request."
        ),
    )
    log_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    log_parser.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"how many events (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})",
    )
    log_parser.add_argument("--token", metavar="TOKEN_ID", help="only this API token's requests")
    log_parser.add_argument(
        "--resource-type", metavar="TYPE", help="only this resource type, e.g. User or Group"
    )
    log_parser.add_argument("--outcome", choices=OUTCOMES, help="only this outcome")
    log_parser.set_defaults(handler=show_log)


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {raw!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_LIMIT}")
    return value


def _equals(attribute: str, value: str) -> directory_pb2.Filter:
    return directory_pb2.Filter(
        comparison=directory_pb2.Comparison(
            attribute=attribute,
            operator=directory_pb2.OPERATOR_EQUAL,
            value=directory_pb2.FilterValue(string_value=value),
        )
    )


def log_filter(args: argparse.Namespace) -> directory_pb2.Filter | None:
    """The directory filter of the command's options (None: every event)."""
    parts = []
    if args.token:
        parts.append(_equals("token_id", args.token))
    if args.resource_type:
        parts.append(_equals("resource_type", args.resource_type))
    if args.outcome:
        parts.append(_equals("outcome", args.outcome))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    combined = directory_pb2.Filter()
    getattr(combined, "and").filters.extend(parts)  # `and` is a Python keyword
    return combined


_COLUMNS = (
    "TIME", "TOKEN", "METHOD", "OPERATION", "RESOURCE", "ID", "OUTCOME", "STATUS", "DURATION",
    "DETAIL",
)  # fmt: skip


def _duration(event: directory_pb2.ProvisioningEvent) -> str:
    return f"{event.duration.ToMicroseconds() / 1000:.1f} ms"


async def _check_credential(rt: Runtime, account_id: str, token_id: str) -> None:
    """Fails with "unknown" when ``token_id`` names neither an API token nor an OAuth client of
    the account (revoked ones still count: their requests stay in the log), rather than
    printing an empty log that reads as "this token sent nothing"."""
    auth = rt.auth
    lookups: tuple[Callable[[], Awaitable[object]], ...] = (
        lambda: auth.stub.GetApiToken(
            auth_pb2.GetApiTokenRequest(account_id=account_id, token_id=token_id)
        ),
        lambda: auth.stub.GetOAuthClient(
            auth_pb2.GetOAuthClientRequest(account_id=account_id, client_id=token_id)
        ),
    )
    for lookup in lookups:
        try:
            await lookup()
            return
        except grpc.aio.AioRpcError as error:
            if error.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise rpc_failure(auth.name, auth.address, error) from None
    raise CliError(
        f"token {token_id!r} is unknown in this account: `idmesh token list --account ...` "
        "and `idmesh oauth-client list --account ...` show its credentials"
    )


async def show_log(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    if args.token:
        await _check_credential(rt, account.id, args.token)
    directory = rt.directory
    response = await directory.call(
        directory.stub.ListProvisioningEvents(
            directory_pb2.ListProvisioningEventsRequest(
                account_id=account.id,
                filter=log_filter(args),
                page=directory_pb2.PageRequest(
                    page_size=args.limit,
                    order_by="time",
                    sort_order=directory_pb2.SORT_ORDER_DESCENDING,
                ),
            )
        )
    )
    events = list(response.events)
    if rt.output.json_mode:
        rt.output.document(
            [
                {**message_dict(e), "outcome": _OUTCOME_NAMES.get(e.outcome, "unspecified")}
                for e in events
            ]
        )
    elif not events:
        rt.output.note(f"No SCIM requests logged for account {account.name!r}.")
    else:
        rt.output.result(
            table(
                _COLUMNS,
                [
                    [
                        timestamp(e.time),
                        e.token_id or "-",
                        e.method,
                        e.operation,
                        e.resource_type or "-",
                        e.resource_id or "-",
                        _OUTCOME_NAMES.get(e.outcome, "unspecified"),
                        e.http_status,
                        _duration(e),
                        e.detail or "-",
                    ]
                    for e in events
                ],
            )
        )
    return 0
