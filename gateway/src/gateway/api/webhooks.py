"""``/api/v1/webhooks``: endpoints that receive the account's events (Standard Webhooks).

Each delivery is a POST of one event (the JSON of ``GET /api/v1/events``) with the headers
``webhook-id`` (the event id: deduplicate on it), ``webhook-timestamp`` and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the secret).
The secret (``whsec_…``) is in the creation or rotation answer only. Deliveries are in order per
endpoint, one at a time; a failure is retried with growing delays for 3 days, then the endpoint
is disabled (``webhook.disabled`` in the feed and the audit log).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.api import schemas
from gateway.api.events import TYPES_PATTERN
from gateway.api.query import list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.values import json_response, no_content, timestamp
from idmesh.directory.v1 import events_pb2

_TYPE: Final = {"type": "string", "pattern": TYPES_PATTERN, "maxLength": 64}
_DESCRIPTION: Final = string(200, pattern="^[^\\x00-\\x1f\\x7f]*$")

WEBHOOK = schemas.define(
    "Webhook",
    obj(
        {
            "id": schemas.ID,
            "url": string(2048),
            "types": {**array(_TYPE), "description": "Empty: every type."},
            "description": string(200),
            "enabled": {"type": "boolean"},
            "disabled_reason": string(500),
            "delivered_cursor": {
                "type": "integer",
                "description": "Every event up to this cursor was delivered.",
            },
            "failing_since": schemas.NULLABLE_TIMESTAMP,
            "create_time": schemas.TIMESTAMP,
        },
        required=(
            "id",
            "url",
            "types",
            "description",
            "enabled",
            "disabled_reason",
            "delivered_cursor",
            "failing_since",
            "create_time",
        ),
    ),
)
schemas.page_of("WebhookList", WEBHOOK)
schemas.define(
    "WebhookCreate",
    obj(
        {
            "url": {
                **string(2048, pattern="^https?://"),
                "description": "https, on a public address.",
            },
            "types": array(_TYPE, maxItems=50, uniqueItems=True),
            "description": _DESCRIPTION,
        },
        required=("url",),
        additionalProperties=False,
    ),
)
schemas.define(
    "WebhookSecret",
    obj(
        {
            "webhook": WEBHOOK,
            "secret": {
                "type": "string",
                "pattern": "^whsec_",
                "description": "The signing secret, shown this once.",
            },
        },
        required=("webhook", "secret"),
    ),
)
DELIVERY = schemas.define(
    "WebhookDelivery",
    obj(
        {
            "id": schemas.ID,
            "event_id": schemas.ID,
            "event_cursor": {"type": "integer"},
            "event_type": {"type": "string"},
            "attempt": {"type": "integer"},
            "resend": {"type": "boolean"},
            "succeeded": {"type": "boolean"},
            "http_status": {"type": "integer", "description": "0: no answer."},
            "latency_ms": {"type": "integer"},
            "error": string(500),
            "time": schemas.TIMESTAMP,
        },
        required=(
            "id",
            "event_id",
            "event_cursor",
            "event_type",
            "attempt",
            "resend",
            "succeeded",
            "http_status",
            "latency_ms",
            "error",
            "time",
        ),
    ),
)
schemas.page_of("WebhookDeliveryList", DELIVERY)
schemas.define(
    "WebhookResend",
    obj({"event_id": schemas.ID}, required=("event_id",), additionalProperties=False),
)


def webhook_json(webhook: events_pb2.Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "types": list(webhook.types),
        "description": webhook.description,
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "delivered_cursor": webhook.delivered_cursor,
        "failing_since": timestamp(webhook.failing_since),
        "create_time": timestamp(webhook.create_time),
    }


def _secret_json(webhook: events_pb2.Webhook, secret: str) -> dict[str, Any]:
    return {"webhook": webhook_json(webhook), "secret": secret}


@endpoint(
    "Create a webhook endpoint",
    description="It receives the events committed from now on. The signing secret is in this "
    "response only.",
    body="WebhookCreate",
    example={"url": "https://hooks.example.com/idmesh", "types": ["user.deactivated"]},
    response="WebhookSecret",
    status=201,
)
async def create_webhook(call: Call) -> web.Response:
    response = await call.clients.events.CreateWebhook(
        events_pb2.CreateWebhookRequest(
            account_id=call.account_id,
            url=call.body["url"],
            types=call.body.get("types") or [],
            description=call.body.get("description") or "",
            actor=call.actor,
        )
    )
    return json_response(
        _secret_json(response.webhook, response.secret),
        status=201,
        location=f"/api/v1/webhooks/{response.webhook.id}",
    )


@endpoint("List webhook endpoints", response="WebhookList")
async def list_webhooks(call: Call) -> web.Response:
    response = await call.clients.events.ListWebhooks(
        events_pb2.ListWebhooksRequest(account_id=call.account_id)
    )
    return list_response([webhook_json(w) for w in response.webhooks], "")


@endpoint("Get a webhook endpoint", response="Webhook")
async def get_webhook(call: Call) -> web.Response:
    response = await call.clients.events.GetWebhook(
        events_pb2.GetWebhookRequest(account_id=call.account_id, webhook_id=call.path("webhook_id"))
    )
    return json_response(webhook_json(response.webhook))


@endpoint("Delete a webhook endpoint", status=204)
async def delete_webhook(call: Call) -> web.Response:
    await call.clients.events.DeleteWebhook(
        events_pb2.DeleteWebhookRequest(
            account_id=call.account_id, webhook_id=call.path("webhook_id"), actor=call.actor
        )
    )
    return no_content()


@endpoint(
    "Rotate a webhook endpoint's secret",
    description="A new secret, in this response only; the previous one keeps signing too (a "
    "second signature in webhook-signature) for 24 hours, so receivers switch without a gap.",
    response="WebhookSecret",
)
async def rotate_webhook_secret(call: Call) -> web.Response:
    response = await call.clients.events.RotateWebhookSecret(
        events_pb2.RotateWebhookSecretRequest(
            account_id=call.account_id, webhook_id=call.path("webhook_id"), actor=call.actor
        )
    )
    return json_response(_secret_json(response.webhook, response.secret))


@endpoint(
    "List a webhook endpoint's deliveries",
    description="Newest first.",
    response="WebhookDeliveryList",
)
async def list_webhook_deliveries(call: Call) -> web.Response:
    response = await call.clients.events.ListWebhookDeliveries(
        events_pb2.ListWebhookDeliveriesRequest(
            account_id=call.account_id, webhook_id=call.path("webhook_id"), limit=1000
        )
    )
    items = [
        {
            "id": d.id,
            "event_id": d.event_id,
            "event_cursor": d.event_cursor,
            "event_type": d.event_type,
            "attempt": d.attempt,
            "resend": d.resend,
            "succeeded": d.succeeded,
            "http_status": d.http_status,
            "latency_ms": d.latency_ms,
            "error": d.error,
            "time": timestamp(d.time),
        }
        for d in response.deliveries
    ]
    return list_response(items, "")


@endpoint(
    "Resend an event to a webhook endpoint",
    description="Delivered once more, beside the in-order stream (a retained event only).",
    body="WebhookResend",
    example={"event_id": "6f1c1a52-3b1e-4a53-9a53-2d2a7c9f0e11"},
    status=202,
)
async def resend_webhook_event(call: Call) -> web.Response:
    await call.clients.events.ResendWebhookEvent(
        events_pb2.ResendWebhookEventRequest(
            account_id=call.account_id,
            webhook_id=call.path("webhook_id"),
            event_id=call.body["event_id"],
            actor=call.actor,
        )
    )
    return web.Response(status=202)
