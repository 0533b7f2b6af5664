"""``/api/v1/events``: the account's change feed, oldest first, resumable from a cursor.

The same typed events as the directory's WatchEvents stream and the webhook deliveries (whose
JSON body is one of these items). A cursor older than the retained events (30 days by default)
is 400 ``cursor_expired``, naming the oldest cursor to resume after: never a silent skip.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from google.protobuf import json_format

from gateway.api import schemas
from gateway.api.audit import ACTOR_TYPE_NAMES
from gateway.api.query import Kind, Param, Query
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.values import enum_name, json_response, timestamp
from idmesh.directory.v1 import events_pb2

MAX_CURSOR: Final = 2**53 - 1
TYPES_PATTERN: Final = r"^[a-z_]+\.[a-z_]+(,[a-z_]+\.[a-z_]+)*$"

EVENT = schemas.define(
    "Event",
    obj(
        {
            "id": {**schemas.ID, "description": "Also the webhook-id of its deliveries."},
            "type": {"type": "string", "description": 'e.g. "user.created", "grant.created".'},
            "version": {"type": "integer", "description": "Of the type's data shape."},
            "timestamp": schemas.TIMESTAMP,
            "account_id": schemas.ID,
            "cursor": {
                "type": "integer",
                "description": "Increases by one with each event of the account.",
            },
            "actor": obj(
                {
                    "type": {"type": "string", "enum": [*ACTOR_TYPE_NAMES.values(), "unspecified"]},
                    "id": string(),
                    "display_name": string(),
                },
                required=("type", "id", "display_name"),
            ),
            "channel": {
                "type": "string",
                "description": "What the change came through: scim, sso, admin_api, cli, system.",
            },
            "data": {
                "type": "object",
                "description": "The resource as it is after the change (as it was, for a "
                "deletion); never a secret.",
            },
        },
        required=(
            "id",
            "type",
            "version",
            "timestamp",
            "account_id",
            "cursor",
            "actor",
            "channel",
            "data",
        ),
    ),
)
schemas.define(
    "EventList",
    obj(
        {
            "items": array(EVENT),
            "next_cursor": {
                "type": "integer",
                "description": "Pass as after for the next page (the last item's cursor).",
            },
        },
        required=("items", "next_cursor"),
    ),
)


def event_json(event: events_pb2.Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "version": event.version,
        "timestamp": timestamp(event.time),
        "account_id": event.account_id,
        "cursor": event.cursor,
        "actor": {
            "type": enum_name(ACTOR_TYPE_NAMES, event.actor.type),
            "id": event.actor.id,
            "display_name": event.actor.display_name,
        },
        "channel": event.channel,
        "data": json_format.MessageToDict(event.resource),
    }


def types(call: Call) -> list[str]:
    raw = call.query.text("types")
    return raw.split(",") if raw else []


@endpoint(
    "List events",
    description="The account's change feed after a cursor, oldest first. Poll with the "
    "next_cursor of each answer; the same events reach webhook endpoints.",
    query=Query(
        (
            Param(
                "after",
                "The cursor to read after (0, the default: the oldest retained event).",
                Kind.INTEGER,
                maximum=MAX_CURSOR,
            ),
            Param(
                "types",
                "Comma-separated event types (default: every type).",
                max_length=400,
                pattern=TYPES_PATTERN,
            ),
            Param(
                "limit",
                "At most this many events (default 100).",
                Kind.INTEGER,
                minimum=1,
                maximum=1000,
            ),
        )
    ),
    response="EventList",
)
async def list_events(call: Call) -> web.Response:
    after = call.query.get("after") or 0
    limit = call.query.get("limit") or 100
    assert isinstance(after, int)
    assert isinstance(limit, int)
    response = await call.clients.events.ListEvents(
        events_pb2.ListEventsRequest(
            account_id=call.account_id, after_cursor=after, types=types(call), limit=limit
        )
    )
    return json_response(
        {"items": [event_json(e) for e in response.events], "next_cursor": response.next_cursor}
    )
