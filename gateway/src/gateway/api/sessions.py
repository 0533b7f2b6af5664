"""``/api/v1/users/{id}/sessions`` and ``/api/v1/sessions/{id}``: who is signed in, and ending it.

A session is one browser's sign-in: when and how it began (connection, IP address, user agent),
when it was last used, and when it ends (idle and absolute). An ended session fails every
validation at once, on every replica: auth caches none, so the next request of that browser is
sent to sign in. Ending a session here does not sign the user out of the IdP.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from gateway.api import schemas
from gateway.api.query import list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import obj, string
from gateway.api.users import get_user_message
from gateway.api.values import json_response, no_content, timestamp
from idmesh.auth.v1 import auth_pb2

MAX_SESSIONS = 200

_SESSION = schemas.define(
    "Session",
    obj(
        {
            "id": schemas.ID,
            "user_id": schemas.ID,
            "connection_id": {**schemas.ID, "type": ["string", "null"]},
            "create_time": schemas.TIMESTAMP,
            "last_use_time": schemas.NULLABLE_TIMESTAMP,
            "idle_expire_time": {
                **schemas.NULLABLE_TIMESTAMP,
                "description": "Ends if unused until then (SESSION_IDLE_TTL after last use).",
            },
            "expire_time": {
                **schemas.TIMESTAMP,
                "description": "Ends then at the latest (SESSION_TTL after the sign-in).",
            },
            "revoke_time": schemas.NULLABLE_TIMESTAMP,
            "revoke_reason": string(
                description="logout, idp_logout, admin, idle, user_deactivated, user_deleted."
            ),
            "active": {"type": "boolean", "description": "Not ended and not expired."},
            "ip_address": string(description="The sign-in's client address."),
            "user_agent": string(512, description="The sign-in's browser."),
        },
        required=("id", "user_id", "create_time", "expire_time", "active"),
    ),
)
schemas.page_of("SessionList", _SESSION)
schemas.define(
    "SessionsRevoked",
    obj(
        {"revoked": {"type": "integer", "description": "How many live sessions were ended."}},
        required=("revoked",),
    ),
)


def session_json(session: auth_pb2.Session, now: float) -> dict[str, Any]:
    expire = session.expire_time.seconds + session.expire_time.nanos / 1e9
    idle = session.idle_expire_time.seconds + session.idle_expire_time.nanos / 1e9
    ended = session.HasField("revoke_time") or expire <= now or (bool(idle) and idle <= now)
    return {
        "id": session.id,
        "user_id": session.user_id,
        "connection_id": session.connection_id or None,
        "create_time": timestamp(session.create_time),
        "last_use_time": timestamp(session.last_use_time),
        "idle_expire_time": timestamp(session.idle_expire_time),
        "expire_time": timestamp(session.expire_time),
        "revoke_time": timestamp(session.revoke_time),
        "revoke_reason": session.revoke_reason,
        "active": not ended,
        "ip_address": session.ip_address,
        "user_agent": session.user_agent,
    }


@endpoint(
    "List a user's sessions",
    description=f"The newest {MAX_SESSIONS} sessions, live and ended (an ended one is kept "
    "until a day after its absolute end).",
    response="SessionList",
)
async def list_user_sessions(call: Call) -> web.Response:
    user = await get_user_message(call, call.path("user_id"))
    response = await call.clients.auth.ListUserSessions(
        auth_pb2.ListUserSessionsRequest(
            account_id=call.account_id, user_id=user.id, page_size=MAX_SESSIONS
        )
    )
    now = time.time()
    return list_response([session_json(s, now) for s in response.sessions], "")


@endpoint(
    "End a session",
    description="The session fails validation at once, on every replica. Ending an ended "
    "session changes nothing.",
    status=204,
)
async def revoke_session(call: Call) -> web.Response:
    await call.clients.auth.RevokeSession(
        auth_pb2.RevokeSessionRequest(
            account_id=call.account_id, session_id=call.path("session_id")
        )
    )
    return no_content()


@endpoint(
    "End all sessions of a user",
    description="Every live session of the user ends at once; the user may sign in again.",
    response="SessionsRevoked",
)
async def revoke_user_sessions(call: Call) -> web.Response:
    user = await get_user_message(call, call.path("user_id"))
    response = await call.clients.auth.RevokeUserSessions(
        auth_pb2.RevokeUserSessionsRequest(account_id=call.account_id, user_id=user.id)
    )
    return json_response({"revoked": response.revoked})
