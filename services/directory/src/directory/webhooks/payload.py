"""The JSON body of a delivery: the event as GET /api/v1/events shows it, plus Standard Webhooks'
``timestamp`` and ``data`` (the resource)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import asyncpg


def event_body(row: asyncpg.Record) -> bytes:
    resource: Any = json.loads(row["resource"])
    body = {
        "id": str(row["id"]),
        "type": row["type"],
        "version": row["version"],
        "timestamp": row["time"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": str(row["account_id"]),
        "cursor": row["seq"],
        "actor": {
            "type": row["actor_type"],
            "id": row["actor_id"],
            "display_name": row["actor_display_name"],
        },
        "channel": row["channel"],
        "data": resource,
    }
    return json.dumps(body, separators=(",", ":")).encode()
