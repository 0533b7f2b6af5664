"""``/api/v1/login-traces`` and ``/api/v1/provisioning-events``: what an account admin reads
when a sign-in or a provisioning run went wrong.

A login trace is one SSO attempt (auth): the stage reached, the outcome and its reason, the
claims the IdP sent with secrets redacted (what the Torque guide has admins paste into a JWT
decoder), the clock delta and the trace id. A provisioning event is one SCIM request
(directory): operation, resource, outcome, HTTP status, never a value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from aiohttp import web
from google.protobuf import json_format

from gateway.api import schemas
from gateway.api.query import Kind, Param, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.values import enum_name, timestamp
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb

_LOGIN_OUTCOMES: Final = {
    auth_pb2.LOGIN_OUTCOME_SUCCESS: "success",
    auth_pb2.LOGIN_OUTCOME_FAILURE: "failure",
    auth_pb2.LOGIN_OUTCOME_RESTARTED: "restarted",
}
_PROVISIONING_OUTCOMES: Final = {
    pb.PROVISIONING_OUTCOME_SUCCESS: "success",
    pb.PROVISIONING_OUTCOME_REJECTED: "rejected",
    pb.PROVISIONING_OUTCOME_FAILED: "failed",
}

_TRACE = schemas.define(
    "LoginTrace",
    obj(
        {
            "id": schemas.ID,
            "connection_id": schemas.ID,
            "time": schemas.TIMESTAMP,
            "trace_id": string(description="The OpenTelemetry trace id (32 hex digits)."),
            "stage": string(description="start, callback, token, id_token, provisioning, session."),
            "outcome": {"type": "string", "enum": [*_LOGIN_OUTCOMES.values(), "unspecified"]},
            "reason": string(description='Machine-readable, e.g. "nonce_mismatch".'),
            "detail": string(1000, description="A sentence for the admin; never a secret."),
            "subject": string(),
            "email": string(),
            "user_id": {**schemas.ID, "type": ["string", "null"]},
            "claims": {
                "type": "object",
                "description": "The decoded ID token claims, secrets (hashes, nonce) redacted.",
            },
            "groups": array(string()),
            "clock_delta_seconds": {
                "type": ["number", "null"],
                "description": "Our clock minus the token's iat (positive: the IdP is behind).",
            },
            "duration_ms": {"type": "number"},
        },
        required=("id", "connection_id", "time", "stage", "outcome", "reason", "claims"),
    ),
)
schemas.page_of("LoginTraceList", _TRACE)

_EVENT = schemas.define(
    "ProvisioningEvent",
    obj(
        {
            "id": schemas.ID,
            "time": schemas.TIMESTAMP,
            "token_id": string(description="The API token the SCIM client used (its id)."),
            "method": string(),
            "operation": string(description="create, read, list, search, replace, update, ..."),
            "resource_type": string(),
            "resource_id": string(),
            "outcome": {
                "type": "string",
                "enum": [*_PROVISIONING_OUTCOMES.values(), "unspecified"],
            },
            "http_status": {"type": "integer"},
            "duration_ms": {"type": "number"},
            "detail": string(1000),
            "trace_id": string(),
        },
        required=("id", "time", "method", "operation", "outcome", "http_status"),
    ),
)
schemas.page_of("ProvisioningEventList", _EVENT)


def trace_json(trace: auth_pb2.LoginTrace) -> dict[str, Any]:
    return {
        "id": trace.id,
        "connection_id": trace.connection_id,
        "time": timestamp(trace.time),
        "trace_id": trace.trace_id,
        "stage": trace.stage,
        "outcome": enum_name(_LOGIN_OUTCOMES, trace.outcome),
        "reason": trace.reason,
        "detail": trace.detail,
        "subject": trace.subject,
        "email": trace.email,
        "user_id": trace.user_id or None,
        "claims": json_format.MessageToDict(trace.claims),
        "groups": list(trace.groups),
        "clock_delta_seconds": trace.clock_delta_seconds if trace.has_clock_delta else None,
        "duration_ms": trace.duration_ms,
    }


@endpoint(
    "List login traces",
    description="One trace per SSO attempt, newest first.",
    query=filters(
        Param("connection_id", "Only this connection's attempts.", Kind.UUID),
        Param("since", "Only attempts after this time (RFC 3339).", Kind.TIMESTAMP),
        Param(
            "outcome",
            "Only attempts with this outcome.",
            Kind.ENUM,
            tuple(_LOGIN_OUTCOMES.values()),
        ),
        Param("user_id", "Only attempts that named this user.", Kind.UUID),
    ),
    response="LoginTraceList",
)
async def list_login_traces(call: Call) -> web.Response:
    request = auth_pb2.ListLoginTracesRequest(
        account_id=call.account_id,
        page_size=_size(call),
        page_token=call.query.text("page_token"),
        connection_id=call.query.text("connection_id"),
        outcome=call.query.text("outcome"),
        user_id=call.query.text("user_id"),
    )
    since = call.query.get("since")
    if isinstance(since, datetime):
        request.after.FromDatetime(since)
    response = await call.clients.auth.ListLoginTraces(request)
    return list_response([trace_json(t) for t in response.traces], response.next_page_token)


def _size(call: Call) -> int:
    size = call.query.get("page_size")
    return size if isinstance(size, int) else 0


def event_json(event: pb.ProvisioningEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": timestamp(event.time),
        "token_id": event.token_id,
        "method": event.method,
        "operation": event.operation,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "outcome": enum_name(_PROVISIONING_OUTCOMES, event.outcome),
        "http_status": event.http_status,
        "duration_ms": event.duration.ToMicroseconds() / 1000,
        "detail": event.detail,
        "trace_id": event.trace_id,
    }


@endpoint(
    "List SCIM provisioning events",
    description="Every SCIM request of the account's IdPs, newest first.",
    query=filters(
        Param(
            "outcome",
            "success, rejected (4xx) or failed (5xx).",
            Kind.ENUM,
            tuple(_PROVISIONING_OUTCOMES.values()),
            "outcome",
        ),
        Param("operation", "e.g. create, update, delete.", attribute="operation"),
        Param("resource_type", "User or Group.", attribute="resource_type"),
        Param("resource_id", "The resource's id.", attribute="resource_id"),
        Param(
            "since",
            "Events at or after this time (RFC 3339).",
            Kind.TIMESTAMP,
            attribute="time",
            operator=pb.OPERATOR_GREATER_OR_EQUAL,
        ),
    ),
    response="ProvisioningEventList",
)
async def list_provisioning_events(call: Call) -> web.Response:
    response = await call.directory.ListProvisioningEvents(
        pb.ListProvisioningEventsRequest(
            account_id=call.account_id,
            filter=call.query.filter(),
            page=call.query.page(order_by="time", descending=True),
        )
    )
    return list_response([event_json(e) for e in response.events], response.page.next_page_token)
