"""The Webhooks admin page: the account's endpoints with their state and cursor, a form to add
one (its signing secret shown once, on the page that answers the form), and each endpoint's
latest deliveries."""

from __future__ import annotations

from typing import Final

import grpc
from aiohttp import web

from gateway.admin.guard import Admin, check_csrf, csrf_input, require
from gateway.admin.layout import admin_page, table
from gateway.forms import read_form
from gateway.pages.html import esc
from gateway.state import CLIENTS
from idmesh.directory.v1 import events_pb2

_FORM_ERRORS: Final = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404}
_DELIVERIES_SHOWN: Final = 5


def _form(admin: Admin, url: str, types: str, error: str) -> str:
    alert = f'<div class="alert" role="alert"><p>{esc(error)}</p></div>' if error else ""
    return (
        f'<h2>Add an endpoint</h2>\n{alert}<form method="post" action="/admin/webhooks">'
        f"{csrf_input(admin)}\n"
        '<p><label for="url">URL (https)</label> '
        f'<input id="url" name="url" type="url" required value="{esc(url)}"></p>\n'
        '<p><label for="types">Event types, comma-separated (empty: all)</label> '
        f'<input id="types" name="types" value="{esc(types)}"></p>\n'
        '<button type="submit">Add endpoint</button>\n</form>'
    )


async def _page(
    request: web.Request,
    admin: Admin,
    *,
    url: str = "",
    types: str = "",
    error: str = "",
    secret: str = "",
    status: int = 200,
) -> web.Response:
    events = request.app[CLIENTS].events
    listed = await events.ListWebhooks(events_pb2.ListWebhooksRequest(account_id=admin.account_id))
    sections = []
    for webhook in listed.webhooks:
        log = await events.ListWebhookDeliveries(
            events_pb2.ListWebhookDeliveriesRequest(
                account_id=admin.account_id, webhook_id=webhook.id, limit=_DELIVERIES_SHOWN
            )
        )
        state = "enabled" if webhook.enabled else f"disabled: {webhook.disabled_reason}"
        rows = [
            (
                esc(d.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")),
                esc(d.event_type),
                esc(d.attempt),
                esc(d.http_status or "-"),
                esc(d.latency_ms),
                esc(d.error or "-"),
            )
            for d in log.deliveries
        ]
        deliveries = (
            table(
                "Latest deliveries",
                ("Time", "Event", "Attempt", "HTTP", "ms", "Error"),
                rows,
            )
            if rows
            else "<p>No delivery yet.</p>"
        )
        sections.append(
            f"<section><h3>{esc(webhook.url)}</h3>\n"
            f"<p>{esc(', '.join(webhook.types) or 'every event type')} · {esc(state)} · "
            f"delivered up to cursor {esc(webhook.delivered_cursor)}</p>\n{deliveries}</section>"
        )
    shown = ""
    if secret:
        shown = (
            '<div class="status" role="status"><p>Endpoint added. Its signing secret, shown '
            f"only this once: <code>{esc(secret)}</code></p></div>\n"
        )
    listing = "\n".join(sections) or "<p>No endpoint yet.</p>"
    body = (
        f"{shown}<p>Every change in the account is POSTed to these endpoints, signed "
        "(Standard Webhooks), in order.</p>\n<h2>Endpoints</h2>\n"
        f"{listing}\n{_form(admin, url, types, error)}"
    )
    return admin_page(admin, "Webhooks", body, status=status)


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
            url=url,
            types=types,
            error=f"The endpoint was not added: {error.details()}",
            status=_FORM_ERRORS[error.code()],
        )
    return await _page(request, admin, secret=created.secret, status=201)
