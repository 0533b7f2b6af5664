"""``idmesh traces list|tail``: the login traces of an account, what an admin reads when an SSO
login fails (stage reached, reason, the claims the IdP sent with secrets redacted, the groups,
the clock delta and the trace id to find the login in the tracing backend)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Final

from google.protobuf import json_format, timestamp_pb2

from idmesh.auth.v1 import auth_pb2
from idmesh_cli.connections import resolve
from idmesh_cli.durations import parse_duration
from idmesh_cli.errors import EXIT_USAGE, CliError
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.runtime import Runtime

OUTCOMES: Final = {
    auth_pb2.LOGIN_OUTCOME_SUCCESS: "success",
    auth_pb2.LOGIN_OUTCOME_FAILURE: "failure",
    auth_pb2.LOGIN_OUTCOME_RESTARTED: "restarted",
    # A logout the IdP reports as partial (its STAGE reads "logout", as every logout trace's).
    auth_pb2.LOGIN_OUTCOME_PARTIAL: "partial",
}


def _duration(raw: str) -> float:
    """Seconds, from the CLI's one duration grammar (idmesh_cli.durations)."""
    return parse_duration(raw).total_seconds()


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "traces",
        aliases=["trace"],
        help="read the login traces of an account (why an SSO login failed)",
        description="Login traces: one record per SSO attempt.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="the latest login attempts, newest first",
        description="List the latest login attempts of an account, newest first.",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.add_argument(
        "--connection", default="", metavar="CONNECTION", help="only this connection (name or id)"
    )
    list_parser.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    list_parser.add_argument("--failures", action="store_true", help="only failed attempts")
    list_parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print each attempt's detail, claims and groups",
    )
    list_parser.set_defaults(handler=list_traces)

    tail = actions.add_parser(
        "tail",
        parents=[common],
        help="print login attempts as they happen",
        description="Poll for new login attempts and print each as it arrives (Ctrl-C stops).",
    )
    tail.add_argument("--account", required=True, metavar="NAME", help="account name")
    tail.add_argument(
        "--connection", default="", metavar="CONNECTION", help="only this connection (name or id)"
    )
    tail.add_argument(
        "--interval",
        type=_duration,
        default=2.0,
        metavar="DURATION",
        help="polling interval (default 2s)",
    )
    tail.add_argument(
        "--since",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="also print attempts of the last DURATION (default: only new ones)",
    )
    tail.add_argument(
        "--max",
        type=int,
        default=0,
        metavar="N",
        help="stop after N attempts (default: run until interrupted)",
    )
    tail.add_argument(
        "--timeout",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="stop after DURATION (default: run until interrupted)",
    )
    tail.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print each attempt's detail, claims and groups",
    )
    tail.set_defaults(handler=tail_traces)


def _row(t: auth_pb2.LoginTrace) -> list[str]:
    delta = f"{t.clock_delta_seconds:+.1f}s" if t.has_clock_delta else "-"
    return [
        timestamp(t.time),
        OUTCOMES.get(t.outcome, "?"),
        t.stage,
        t.reason or "-",
        t.email or "-",
        delta,
        t.trace_id or "-",
    ]


HEADERS: Final = ["TIME", "OUTCOME", "STAGE", "REASON", "EMAIL", "CLOCK", "TRACE ID"]


def _details(t: auth_pb2.LoginTrace) -> str:
    claims = json_format.MessageToDict(t.claims)
    lines = [
        f"  detail: {t.detail or '-'}",
        f"  connection: {t.connection_id}  user: {t.user_id or '-'}  subject: {t.subject or '-'}",
        f"  groups: {', '.join(t.groups) or '-'}",
        "  claims: " + (json.dumps(claims, sort_keys=True) if claims else "-"),
    ]
    return "\n".join(lines)


async def _connection_id(rt: Runtime, account_id: str, handle: str) -> str:
    return (await resolve(rt, account_id, handle)).id if handle else ""


async def list_traces(args: argparse.Namespace, rt: Runtime) -> int:
    if args.limit < 1:
        raise CliError("--limit must be positive", EXIT_USAGE)
    account = await rt.account(args.account)
    connection_id = await _connection_id(rt, account.id, args.connection)
    auth = rt.auth
    traces: list[auth_pb2.LoginTrace] = []
    token = ""
    while len(traces) < args.limit:
        response = await auth.call(
            auth.stub.ListLoginTraces(
                auth_pb2.ListLoginTracesRequest(
                    account_id=account.id,
                    connection_id=connection_id,
                    page_size=min(200, args.limit * (4 if args.failures else 1)),
                    page_token=token,
                )
            )
        )
        traces.extend(
            t
            for t in response.traces
            if not args.failures or t.outcome == auth_pb2.LOGIN_OUTCOME_FAILURE
        )
        token = response.next_page_token
        if not token:
            break
    traces = traces[: args.limit]
    if rt.output.json_mode:
        rt.output.document([message_dict(t) for t in traces])
    elif not traces:
        rt.output.note(f"No login attempts recorded for account {account.name!r}.")
    elif args.verbose:
        for t in traces:
            rt.output.result(table(HEADERS, [_row(t)]) + "\n" + _details(t))
    else:
        rt.output.result(table(HEADERS, [_row(t) for t in traces]))
    return 0


async def tail_traces(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    connection_id = await _connection_id(rt, account.id, args.connection)
    auth = rt.auth
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + args.timeout if args.timeout else None
    since = datetime.now(UTC) - timedelta(seconds=args.since)
    after = timestamp_pb2.Timestamp()
    after.FromDatetime(since)
    printed = 0
    token = ""
    if not rt.output.json_mode:
        rt.output.note(f"Waiting for login attempts of account {account.name!r} (Ctrl-C stops).")
    while True:
        response = await auth.call(
            auth.stub.ListLoginTraces(
                auth_pb2.ListLoginTracesRequest(
                    account_id=account.id,
                    connection_id=connection_id,
                    after=after,
                    page_size=100,
                    page_token=token,
                )
            )
        )
        for t in response.traces:
            if rt.output.json_mode:
                print(json.dumps(message_dict(t), sort_keys=True), flush=True)
            else:
                line = "  ".join(_row(t))
                rt.output.result(line + ("\n" + _details(t) if args.verbose else ""))
            printed += 1
            if args.max and printed >= args.max:
                return 0
        token = response.next_page_token
        if token:
            continue  # more already waiting: read on without sleeping
        if response.traces:
            # Continue after the last one seen (times are stored to the microsecond).
            last = response.traces[-1]
            after.CopyFrom(last.time)
            after.nanos += 1000
            if after.nanos >= 1_000_000_000:
                after.seconds += 1
                after.nanos -= 1_000_000_000
        if stop_at is not None and loop.time() >= stop_at:
            return 0
        await asyncio.sleep(args.interval)
