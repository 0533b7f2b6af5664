"""The Webhooks admin page: the account's endpoints with their state and cursor, a form to add
one (its signing secret shown once, on the page that answers the form), and each endpoint's
latest deliveries."""

from __future__ import annotations

from typing import Final

import grpc
from aiohttp import web

from gateway.admin.guard import Admin, check_csrf, require
from gateway.admin.layout import render_admin
from gateway.forms import read_form
from gateway.state import CLIENTS
from idmesh.directory.v1 import events_pb2

_FORM_ERRORS: Final = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404}
_DELIVERIES_SHOWN: Final = 5


async def _page(
    request: web.Request,
    admin: Admin,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    secret: str = "",
    status: int = 200,
) -> web.Response:
    events = request.app[CLIENTS].events
    listed = await events.ListWebhooks(events_pb2.ListWebhooksRequest(account_id=admin.account_id))
    endpoints = []
    for webhook in listed.webhooks:
        log = await events.ListWebhookDeliveries(
            events_pb2.ListWebhookDeliveriesRequest(
                account_id=admin.account_id, webhook_id=webhook.id, limit=_DELIVERIES_SHOWN
            )
        )
        endpoints.append(
            {
                "id": webhook.id,
                "url": webhook.url,
                "types": list(webhook.types),
                "enabled": webhook.enabled,
                "disabled_reason": webhook.disabled_reason,
                "delivered_cursor": webhook.delivered_cursor,
                "deliveries": [
                    {
                        "time": d.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC"),
                        "event_type": d.event_type,
                        "attempt": d.attempt,
                        "http_status": d.http_status,
                        "latency_ms": d.latency_ms,
                        "error": d.error,
                    }
                    for d in log.deliveries
                ],
            }
        )
    return render_admin(
        request, admin, "webhooks.html", nav="webhooks", title="Webhooks", status=status,
        endpoints=endpoints, secret=secret, values=values, errors=errors,
    )  # fmt: skip


async def webhooks(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "webhooks:read")
    return await _page(request, admin)


async def add_webhook(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Adds an endpoint with the same RPC as ``POST /api/v1/webhooks``."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "webhooks:manage")
    url = str(form.get("url", "")).strip()
    types = str(form.get("types", "")).strip()
    try:
        created = await request.app[CLIENTS].events.CreateWebhook(
            events_pb2.CreateWebhookRequest(
                account_id=admin.account_id,
                url=url,
                types=[t.strip() for t in types.split(",") if t.strip()],
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() not in _FORM_ERRORS:
            raise
        return await _page(
            request,
            admin,
            values={"url": url, "types": types},
            errors={"url": f"The endpoint was not added: {error.details()}"},
            status=_FORM_ERRORS[error.code()],
        )
    return await _page(request, admin, secret=created.secret, status=201)
