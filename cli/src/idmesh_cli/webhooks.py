"""``idmesh webhook add|list|remove|rotate-secret|deliveries|resend`` and ``idmesh events list``:
the change feed of an account and the endpoints it is delivered to (Standard Webhooks)."""

from __future__ import annotations

import argparse

from idmesh.directory.v1 import events_pb2
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.runtime import Runtime

SHOWN_ONCE = (
    "Store this signing secret now: it is shown only this once. Verify each delivery's "
    "webhook-signature with it (Standard Webhooks)."
)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "webhook",
        aliases=["webhooks"],
        help="manage the endpoints an account's events are delivered to",
        description="Webhook endpoints receive the account's change feed, signed.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    add = actions.add_parser(
        "add", parents=[common], help="register an endpoint (its secret is printed once)"
    )
    add.add_argument("--account", required=True, metavar="NAME", help="account name")
    add.add_argument("--url", required=True, help="https URL on a public address")
    add.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="TYPE",
        help="an event type such as user.deactivated; repeat for several (default: all)",
    )
    add.add_argument("--description", default="", help="what the endpoint is")
    add.set_defaults(handler=add_webhook)

    for name, handler, text in (
        ("remove", remove_webhook, "delete an endpoint"),
        ("rotate-secret", rotate_secret, "a new secret; the old one signs too for 24 hours"),
        ("deliveries", list_deliveries, "the endpoint's delivery log, newest first"),
    ):
        command = actions.add_parser(name, parents=[common], help=text)
        command.add_argument("--account", required=True, metavar="NAME", help="account name")
        command.add_argument("webhook_id", metavar="WEBHOOK_ID")
        command.set_defaults(handler=handler)

    listing = actions.add_parser("list", parents=[common], help="list an account's endpoints")
    listing.add_argument("--account", required=True, metavar="NAME", help="account name")
    listing.set_defaults(handler=list_webhooks)

    resend = actions.add_parser("resend", parents=[common], help="deliver one event again")
    resend.add_argument("--account", required=True, metavar="NAME", help="account name")
    resend.add_argument("webhook_id", metavar="WEBHOOK_ID")
    resend.add_argument("event_id", metavar="EVENT_ID")
    resend.set_defaults(handler=resend_event)

    events = commands.add_parser(
        "events", help="read an account's change feed", description="The change feed."
    )
    event_actions = events.add_subparsers(title="commands", metavar="COMMAND", required=True)
    list_events_parser = event_actions.add_parser(
        "list", parents=[common], help="events after a cursor, oldest first"
    )
    list_events_parser.add_argument("--account", required=True, metavar="NAME")
    list_events_parser.add_argument("--after", type=int, default=0, metavar="CURSOR")
    list_events_parser.add_argument("--type", dest="types", action="append", default=[])
    list_events_parser.add_argument("--limit", type=int, default=100)
    list_events_parser.set_defaults(handler=list_events)


def _row(webhook: events_pb2.Webhook) -> list[object]:
    return [
        webhook.id,
        webhook.url,
        ",".join(webhook.types) or "(all)",
        "enabled" if webhook.enabled else f"disabled: {webhook.disabled_reason}",
        webhook.delivered_cursor,
    ]


async def add_webhook(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    response = await events.call(
        events.stub.CreateWebhook(
            events_pb2.CreateWebhookRequest(
                account_id=account.id,
                url=args.url,
                types=args.types,
                description=args.description,
                actor=rt.actor(),
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document({"webhook": message_dict(response.webhook), "secret": response.secret})
    else:
        rt.output.note(f"Added webhook {response.webhook.id} for account {account.name!r}.")
        rt.output.result(response.secret)
    rt.output.note(SHOWN_ONCE)
    return 0


async def list_webhooks(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    response = await events.call(
        events.stub.ListWebhooks(events_pb2.ListWebhooksRequest(account_id=account.id))
    )
    if rt.output.json_mode:
        rt.output.document([message_dict(w) for w in response.webhooks])
    elif not response.webhooks:
        rt.output.note(f"Account {account.name!r} has no webhooks.")
    else:
        headers = ["ID", "URL", "TYPES", "STATE", "DELIVERED"]
        rt.output.result(table(headers, [_row(w) for w in response.webhooks]))
    return 0


async def remove_webhook(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    await events.call(
        events.stub.DeleteWebhook(
            events_pb2.DeleteWebhookRequest(
                account_id=account.id, webhook_id=args.webhook_id, actor=rt.actor()
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document({"deleted": args.webhook_id})
    else:
        rt.output.note(f"Removed webhook {args.webhook_id}.")
    return 0


async def rotate_secret(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    response = await events.call(
        events.stub.RotateWebhookSecret(
            events_pb2.RotateWebhookSecretRequest(
                account_id=account.id, webhook_id=args.webhook_id, actor=rt.actor()
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document({"webhook": message_dict(response.webhook), "secret": response.secret})
    else:
        rt.output.result(response.secret)
    rt.output.note(SHOWN_ONCE)
    return 0


async def list_deliveries(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    response = await events.call(
        events.stub.ListWebhookDeliveries(
            events_pb2.ListWebhookDeliveriesRequest(
                account_id=account.id, webhook_id=args.webhook_id
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document([message_dict(d) for d in response.deliveries])
    else:
        rt.output.result(
            table(
                ["TIME", "EVENT", "CURSOR", "ATTEMPT", "STATUS", "MS", "ERROR"],
                [
                    [
                        timestamp(d.time),
                        d.event_type,
                        d.event_cursor,
                        f"{d.attempt}{' (resend)' if d.resend else ''}",
                        d.http_status or "-",
                        d.latency_ms,
                        d.error,
                    ]
                    for d in response.deliveries
                ],
            )
        )
    return 0


async def resend_event(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    await events.call(
        events.stub.ResendWebhookEvent(
            events_pb2.ResendWebhookEventRequest(
                account_id=account.id,
                webhook_id=args.webhook_id,
                event_id=args.event_id,
                actor=rt.actor(),
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document({"resend": args.event_id})
    else:
        rt.output.note(f"Event {args.event_id} will be delivered once more.")
    return 0


async def list_events(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    events = rt.events
    response = await events.call(
        events.stub.ListEvents(
            events_pb2.ListEventsRequest(
                account_id=account.id, after_cursor=args.after, types=args.types, limit=args.limit
            )
        )
    )
    if rt.output.json_mode:
        rt.output.document(
            {
                "events": [message_dict(e) for e in response.events],
                "next_cursor": response.next_cursor,
            }
        )
    else:
        rt.output.result(
            table(
                ["CURSOR", "TIME", "TYPE", "CHANNEL", "ACTOR"],
                [
                    [e.cursor, timestamp(e.time), e.type, e.channel, e.actor.display_name]
                    for e in response.events
                ],
            )
        )
    return 0
