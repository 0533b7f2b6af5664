"""``idmesh session list|revoke``: who is signed in, and ending it (the user must sign in again;
the IdP's own session is left as it is)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from idmesh.auth.v1 import auth_pb2
from idmesh_cli.errors import EXIT_USAGE, CliError
from idmesh_cli.lookup import find_user
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.runtime import Runtime

MAX_SESSIONS = 200


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "session",
        aliases=["sessions"],
        help="list and end users' browser sessions",
        description="Browser sessions after a sign-in: how each began, when it was last used, "
        "and ending one or all of a user's (they fail validation at once, everywhere).",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list a user's sessions, newest first",
        description="List a user's sessions, live and ended (an ended one is kept until a day "
        "after its absolute end).",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.add_argument("--user", required=True, metavar="USER", help="user id or userName")
    list_parser.set_defaults(handler=list_sessions)

    revoke_parser = actions.add_parser(
        "revoke",
        parents=[common],
        help="end one session, or every session of a user",
        description="End a session (SESSION_ID) or, with --user, every live session of a user.",
    )
    revoke_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    revoke_parser.add_argument("session_id", nargs="?", metavar="SESSION_ID", help="a session id")
    revoke_parser.add_argument("--user", metavar="USER", help="every session of this user")
    revoke_parser.set_defaults(handler=revoke)


def session_status(session: auth_pb2.Session, now: datetime) -> str:
    """ "ended (<reason>)", "expired" or "active"."""
    if session.HasField("revoke_time"):
        return f"ended ({session.revoke_reason or 'revoked'})"
    ends = [session.expire_time]
    if session.HasField("idle_expire_time"):
        ends.append(session.idle_expire_time)
    if any(end.ToDatetime(tzinfo=UTC) <= now for end in ends):
        return "expired"
    return "active"


async def list_sessions(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    user = await find_user(rt, account, args.user)
    auth = rt.auth
    response = await auth.call(
        auth.stub.ListUserSessions(
            auth_pb2.ListUserSessionsRequest(
                account_id=account.id, user_id=user.id, page_size=MAX_SESSIONS
            )
        )
    )
    now = datetime.now(UTC)
    if rt.output.json_mode:
        rt.output.document(
            [{**message_dict(s), "status": session_status(s, now)} for s in response.sessions]
        )
    elif not response.sessions:
        rt.output.note(f"User {user.user_name!r} has no sessions.")
    else:
        rt.output.result(
            table(
                ("ID", "STATUS", "CONNECTION", "STARTED", "LAST USED", "IP", "USER AGENT"),
                [
                    (
                        s.id,
                        session_status(s, now),
                        s.connection_id or "-",
                        timestamp(s.create_time),
                        timestamp(s.last_use_time),
                        s.ip_address or "-",
                        s.user_agent[:40] or "-",
                    )
                    for s in response.sessions
                ],
            )
        )
    return 0


async def revoke(args: argparse.Namespace, rt: Runtime) -> int:
    if bool(args.session_id) == bool(args.user):
        raise CliError("give a SESSION_ID or --user (not both)", EXIT_USAGE)
    account = await rt.account(args.account)
    auth = rt.auth
    if args.user:
        user = await find_user(rt, account, args.user)
        revoked = await auth.call(
            auth.stub.RevokeUserSessions(
                auth_pb2.RevokeUserSessionsRequest(account_id=account.id, user_id=user.id)
            )
        )
        if rt.output.json_mode:
            rt.output.document({"user_id": user.id, "revoked": revoked.revoked})
        else:
            rt.output.result(f"Ended {revoked.revoked} session(s) of {user.user_name!r}.")
        return 0
    one = await auth.call(
        auth.stub.RevokeSession(
            auth_pb2.RevokeSessionRequest(account_id=account.id, session_id=args.session_id)
        )
    )
    if rt.output.json_mode:
        rt.output.document({"session_id": args.session_id, "revoked": one.revoked})
    elif one.revoked:
        rt.output.result(f"Ended session {args.session_id}.")
    else:
        rt.output.result(f"Session {args.session_id} had already ended.")
    return 0
