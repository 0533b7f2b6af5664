"""What customers' IT admins configured through setup links, for the console's overview: each
finished setup (from the audit log, where the link is the actor) with what it turned on."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf import json_format

from gateway.admin.guard import Admin
from gateway.api.query import all_of, eq
from gateway.state import CLIENTS
from idmesh.directory.v1 import directory_pb2 as pb


async def finished_setups(
    request: web.Request, admin: Admin, limit: int = 5
) -> list[dict[str, Any]]:
    """The newest finished setups: when, the link, the connection and domains, SCIM."""
    listed = await request.app[CLIENTS].directory.ListAuditEvents(
        pb.ListAuditEventsRequest(
            account_id=admin.account_id,
            filter=all_of([eq("actor.type", "setup_link"), eq("action", "setup_link.finished")]),
            page=pb.PageRequest(page_size=limit, order_by="time",
                                sort_order=pb.SORT_ORDER_DESCENDING),
        )
    )  # fmt: skip
    setups = []
    for event in listed.events:
        details = json_format.MessageToDict(event.details)
        setups.append(
            {
                "time": event.time,
                "link_id": event.actor.id,
                "connection_id": details.get("connection_id", ""),
                "domains": details.get("domains", []),
                "scim": bool(details.get("scim_token_id")),
            }
        )
    return setups
