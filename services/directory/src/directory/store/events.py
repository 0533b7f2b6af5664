"""The change feed's table: typed events, numbered per account.

Events are written by the ``audit_events_feed`` trigger (migration 0005) at the commit of each
change, from the one mapping table ``directory.event_types``; this store only reads them, prunes
them, and records the changes that happen in auth (SSO connections) as audit events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from directory.models import Actor
from directory.store.base import Pool, dumps, record_event
from meshkit.errors import InvalidArgument, OutOfRange

COLUMNS = (
    "account_id, seq, id, type, version, time, actor_type, actor_id, actor_display_name,"
    " channel, target_type, target_id, resource"
)
_AFTER = f"""
SELECT {COLUMNS} FROM directory.events
WHERE account_id = $1 AND seq > $2 AND (cardinality($3::text[]) = 0 OR type = ANY($3))
ORDER BY seq LIMIT $4
"""  # noqa: S608
_PRUNED_THROUGH = "SELECT pruned_through FROM directory.event_cursors WHERE account_id = $1"
_LAST_SEQ = "SELECT COALESCE(max(last_seq), 0) FROM directory.event_cursors WHERE account_id = $1"
_TYPES = "SELECT DISTINCT event_type FROM directory.event_types ORDER BY event_type"

# Per account: the events older than the retention, but never past what a webhook endpoint still
# has to deliver; pruned_through moves with them, so a consumer behind it is told, not skipped.
_PRUNE = """
WITH bound AS (
    SELECT c.account_id, LEAST(
        COALESCE((SELECT min(w.delivered_seq) FROM directory.webhook_endpoints w
                  WHERE w.account_id = c.account_id AND w.enabled), c.last_seq),
        COALESCE((SELECT max(e.seq) FROM directory.events e
                  WHERE e.account_id = c.account_id AND e.time < $1), 0)) AS through
    FROM directory.event_cursors c
),
pruned AS (
    DELETE FROM directory.events e USING bound b
    WHERE e.account_id = b.account_id AND e.seq <= b.through
    RETURNING e.account_id
),
moved AS (
    UPDATE directory.event_cursors c SET pruned_through = b.through
    FROM bound b WHERE c.account_id = b.account_id AND b.through > c.pruned_through
)
SELECT count(*) FROM pruned
"""

# What auth may record, with the target type each concerns.
AUTH_ACTIONS = {
    "connection.created": "connection",
    "connection.updated": "connection",
    "connection.disabled": "connection",
    "connection.deleted": "connection",
    "connection.certificate_expiring": "connection",
    "scim_token.expiring": "api_token",
}
# An expiry reminder already recorded for this target, threshold and expiry (replicas and
# restarts of auth check again; the feed hears each reminder once).
_REMINDED = """
SELECT 1 FROM directory.audit_events
WHERE account_id = $1 AND target_id = $2 AND action = $3 AND details -> 'resource' @> $4::jsonb
LIMIT 1
"""
MAX_PAGE = 1000


@dataclass(frozen=True)
class EventPage:
    rows: list[asyncpg.Record]
    next_cursor: int


class EventStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def after(
        self, account_id: UUID, cursor: int, types: Sequence[str], limit: int
    ) -> EventPage:
        """Up to ``limit`` events after ``cursor``, in order. OUT_OF_RANGE when events after
        ``cursor`` were pruned: read after the rows, so a prune between the two cannot pass
        unnoticed (it commits its deletion and the moved bound together)."""
        if cursor < 0:
            raise InvalidArgument("a cursor is 0 or positive", field="after_cursor")
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_AFTER, account_id, cursor, list(types), limit)
            pruned = await conn.fetchval(_PRUNED_THROUGH, account_id) or 0
        if cursor < pruned:
            raise OutOfRange(
                f"events after cursor {cursor} are no longer retained; the oldest cursor to"
                f" resume after is {pruned}",
                field="after_cursor",
                reason="cursor_expired",
            )
        return EventPage(rows, rows[-1]["seq"] if rows else cursor)

    async def last_cursor(self, account_id: UUID) -> int:
        return int(await self.pool.fetchval(_LAST_SEQ, account_id))

    async def types(self) -> list[str]:
        """Every event type the feed can carry (the mapping table's)."""
        return [r["event_type"] for r in await self.pool.fetch(_TYPES)]

    async def check_types(self, types: Sequence[str], field: str) -> list[str]:
        known = await self.types()
        unknown = sorted(set(types) - set(known))
        if unknown:
            raise InvalidArgument(
                f"unknown event type {unknown[0][:64]!r}; known: {', '.join(known)}",
                field=field,
                reason="unknown_event_type",
            )
        return sorted(set(types))

    async def prune(self, older_than: datetime) -> int:
        """Deletes what the retention lets go; returns how many events."""
        return int(await self.pool.fetchval(_PRUNE, older_than))

    async def record_auth_event(
        self,
        account_id: UUID,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        resource: Mapping[str, Any],
    ) -> None:
        """The audit event of a change in auth (or of an expiry ahead); the feed's trigger
        turns it into its typed event like any other."""
        expected = AUTH_ACTIONS.get(action)
        if expected is None:
            raise InvalidArgument(
                f"unknown action; known: {', '.join(sorted(AUTH_ACTIONS))}", field="action"
            )
        if target_type != expected:
            raise InvalidArgument(f"{action} concerns a {expected}", field="target_type")
        details = {"resource": dict(resource)}
        async with self.pool.acquire() as conn, conn.transaction():
            if action.endswith(".expiring"):
                key = {k: resource.get(k) for k in ("threshold_days", "not_after", "expire_time")}
                reminder = dumps({k: v for k, v in key.items() if v is not None})
                # One reminder at a time per target: concurrent auth replicas queue here.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", target_id)
                if await conn.fetchval(_REMINDED, account_id, target_id, action, reminder):
                    return
            await record_event(conn, account_id, actor, action, target_type, target_id, details)
