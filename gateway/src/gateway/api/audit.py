"""``/api/v1/audit-events``: who changed what in the account, when, and through which channel
(a SCIM token, an SSO login, this API, the CLI). Append-only; newest first by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from google.protobuf import json_format

from gateway.api import schemas
from gateway.api.query import Kind, Param, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import obj, string
from gateway.api.values import enum_name, timestamp
from idmesh.directory.v1 import directory_pb2 as pb

ACTOR_TYPE_NAMES: Final[Mapping[pb.ActorType.ValueType, str]] = {
    pb.ACTOR_TYPE_SCIM_TOKEN: "scim_token",
    pb.ACTOR_TYPE_SSO_LOGIN: "sso_login",
    pb.ACTOR_TYPE_ADMIN_API: "admin_api",
    pb.ACTOR_TYPE_CLI: "cli",
    pb.ACTOR_TYPE_SYSTEM: "system",
    pb.ACTOR_TYPE_SETUP_LINK: "setup_link",
}
_ORDERS: Final = ("newest_first", "oldest_first")

AUDIT_EVENT = schemas.define(
    "AuditEvent",
    obj(
        {
            "id": schemas.ID,
            "time": schemas.TIMESTAMP,
            "actor": obj(
                {
                    "type": {
                        "type": "string",
                        "enum": [*ACTOR_TYPE_NAMES.values(), "unspecified"],
                    },
                    "id": {
                        "type": "string",
                        "description": "The token id (scim_token, admin_api), connection id "
                        "(sso_login), setup link id (setup_link), or operator name (cli).",
                    },
                    "display_name": string(),
                },
                required=("type", "id", "display_name"),
            ),
            "action": {"type": "string", "description": 'A dotted verb, e.g. "user.created".'},
            "target_type": {"type": "string", "description": 'e.g. "user", "group", "space".'},
            "target_id": {"type": "string"},
            "details": {
                "type": "object",
                "description": "What changed (before and after of the changed fields).",
            },
        },
        required=("id", "time", "actor", "action", "target_type", "target_id", "details"),
    ),
)
schemas.page_of("AuditEventList", AUDIT_EVENT)


def event_json(event: pb.AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": timestamp(event.time),
        "actor": {
            "type": enum_name(ACTOR_TYPE_NAMES, event.actor.type),
            "id": event.actor.id,
            "display_name": event.actor.display_name,
        },
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "details": json_format.MessageToDict(event.details),
    }


@endpoint(
    "List audit events",
    description="Filters combine with AND; since is inclusive, until exclusive.",
    query=filters(
        Param(
            "actor_type",
            "The channel of the change.",
            Kind.ENUM,
            tuple(ACTOR_TYPE_NAMES.values()),
            "actor.type",
        ),
        Param("actor_id", "The actor's id, e.g. an API token id.", attribute="actor.id"),
        Param("target_type", "e.g. user, group, space, role, membership.", attribute="target_type"),
        Param("target_id", "The changed resource's id.", attribute="target_id"),
        Param("action", 'A dotted verb, e.g. "user.deactivated".', attribute="action"),
        Param(
            "since",
            "Events at or after this time (RFC 3339).",
            Kind.TIMESTAMP,
            attribute="time",
            operator=pb.OPERATOR_GREATER_OR_EQUAL,
        ),
        Param(
            "until",
            "Events before this time (RFC 3339).",
            Kind.TIMESTAMP,
            attribute="time",
            operator=pb.OPERATOR_LESS,
        ),
        Param("order", "newest_first (the default) or oldest_first.", Kind.ENUM, _ORDERS),
    ),
    response="AuditEventList",
)
async def list_audit_events(call: Call) -> web.Response:
    newest_first = call.query.text("order") != "oldest_first"
    response = await call.directory.ListAuditEvents(
        pb.ListAuditEventsRequest(
            account_id=call.account_id,
            filter=call.query.filter(),
            page=call.query.page(order_by="time", descending=newest_first),
        )
    )
    return list_response([event_json(e) for e in response.events], response.page.next_page_token)
