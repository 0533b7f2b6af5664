"""idmesh.directory.v1.EventService: the change feed (stream and pages) and webhook endpoints.

Watchers subscribe to wake-ups before their first read and always read the events table, so the
switch from backlog to live changes has no gap and no duplicate: every read asks for the events
after the last one sent, and sequence numbers are gap-free and committed in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf import json_format

from directory import convert, validate
from directory.store import Stores
from directory.wakeups import Wakeups
from directory.webhooks import addresses, signing
from idmesh.directory.v1 import events_pb2 as pb
from idmesh.directory.v1 import events_pb2_grpc
from meshkit.errors import InvalidArgument

Context = grpc.aio.ServicerContext[Any, Any]
BATCH = 500
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)


def _limit(value: int) -> int:
    if value < 0 or value > MAX_LIMIT:
        raise InvalidArgument(f"limit is 0 to {MAX_LIMIT}", field="limit")
    return value or DEFAULT_LIMIT


class EventServicer(events_pb2_grpc.EventServiceServicer):
    def __init__(self, stores: Stores, wakeups: Wakeups, *, allow_private: bool) -> None:
        self.stores = stores
        self.wakeups = wakeups
        self.allow_private = allow_private

    # -- the feed --------------------------------------------------------------------------------

    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: Context
    ) -> AsyncIterator[pb.Event]:
        account_id = validate.account_id(request.account_id)
        types = await self.stores.events.check_types(request.types, "types")
        cursor = request.after_cursor
        async with self.wakeups.subscribe(str(account_id)) as woken:
            while True:
                page = await self.stores.events.after(account_id, cursor, types, BATCH)
                for row in page.rows:
                    yield convert.event(row)
                cursor = page.next_cursor
                if len(page.rows) < BATCH:
                    await woken.wait()

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: Context
    ) -> pb.ListEventsResponse:
        account_id = validate.account_id(request.account_id)
        types = await self.stores.events.check_types(request.types, "types")
        page = await self.stores.events.after(
            account_id, request.after_cursor, types, _limit(request.limit)
        )
        return pb.ListEventsResponse(
            events=[convert.event(r) for r in page.rows], next_cursor=page.next_cursor
        )

    async def RecordAuthEvent(
        self, request: pb.RecordAuthEventRequest, context: Context
    ) -> pb.RecordAuthEventResponse:
        await self.stores.events.record_auth_event(
            validate.account_id(request.account_id),
            convert.actor(request.actor),
            request.action,
            request.target_type,
            validate.required(request.target_id, "target_id"),
            json_format.MessageToDict(request.resource),
        )
        return pb.RecordAuthEventResponse()

    # -- webhook endpoints -----------------------------------------------------------------------

    async def CreateWebhook(
        self, request: pb.CreateWebhookRequest, context: Context
    ) -> pb.CreateWebhookResponse:
        account_id = validate.account_id(request.account_id)
        url = addresses.check_url(
            validate.required(request.url, "url"), allow_private=self.allow_private
        )
        types = await self.stores.events.check_types(request.types, "types")
        secret = signing.new_secret()
        row = await self.stores.webhooks.create(
            account_id, url, types, request.description, secret, convert.actor(request.actor)
        )
        return pb.CreateWebhookResponse(webhook=convert.webhook(row), secret=secret)

    async def GetWebhook(
        self, request: pb.GetWebhookRequest, context: Context
    ) -> pb.GetWebhookResponse:
        row = await self.stores.webhooks.get(*_webhook_key(request))
        return pb.GetWebhookResponse(webhook=convert.webhook(row))

    async def ListWebhooks(
        self, request: pb.ListWebhooksRequest, context: Context
    ) -> pb.ListWebhooksResponse:
        rows = await self.stores.webhooks.list(validate.account_id(request.account_id))
        return pb.ListWebhooksResponse(webhooks=[convert.webhook(r) for r in rows])

    async def DeleteWebhook(
        self, request: pb.DeleteWebhookRequest, context: Context
    ) -> pb.DeleteWebhookResponse:
        await self.stores.webhooks.delete(*_webhook_key(request), convert.actor(request.actor))
        return pb.DeleteWebhookResponse()

    async def RotateWebhookSecret(
        self, request: pb.RotateWebhookSecretRequest, context: Context
    ) -> pb.RotateWebhookSecretResponse:
        overlap = timedelta(seconds=request.overlap_seconds) or DEFAULT_OVERLAP
        if overlap < timedelta(0) or overlap > MAX_OVERLAP:
            raise InvalidArgument("overlap is 0 to 7 days", field="overlap_seconds")
        secret = signing.new_secret()
        row = await self.stores.webhooks.rotate(
            *_webhook_key(request),
            secret,
            datetime.now(UTC) + overlap,
            convert.actor(request.actor),
        )
        return pb.RotateWebhookSecretResponse(webhook=convert.webhook(row), secret=secret)

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: Context
    ) -> pb.ListWebhookDeliveriesResponse:
        rows = await self.stores.webhooks.deliveries(*_webhook_key(request), _limit(request.limit))
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[convert.webhook_delivery(r) for r in rows]
        )

    async def ResendWebhookEvent(
        self, request: pb.ResendWebhookEventRequest, context: Context
    ) -> pb.ResendWebhookEventResponse:
        event_id = validate.target_id(request.event_id, "event_id", "event")
        await self.stores.webhooks.resend(*_webhook_key(request), event_id)
        return pb.ResendWebhookEventResponse()


def _webhook_key(
    request: pb.GetWebhookRequest
    | pb.DeleteWebhookRequest
    | pb.RotateWebhookSecretRequest
    | pb.ListWebhookDeliveriesRequest
    | pb.ResendWebhookEventRequest,
) -> tuple[Any, Any]:
    return (
        validate.account_id(request.account_id),
        validate.target_id(request.webhook_id, "webhook_id", "webhook"),
    )
