"""Webhook endpoints, their delivery log and resend requests (the admin side; the deliverer's
queries are in directory.webhooks.queue). Signing secrets are stored sealed
(directory.webhooks.secrets), never in plaintext."""

from __future__ import annotations

import builtins
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from directory.models import Actor
from directory.store.base import Pool, record_event
from directory.webhooks import secrets
from meshkit.errors import NotFound
from meshkit.secretbox import SecretBox

COLUMNS = (
    "account_id, id, url, types, description, enabled, disabled_reason, delivered_seq,"
    " failing_since, create_time"
)
_CREATE = f"""
INSERT INTO directory.webhook_endpoints (account_id, id, url, types, description,
    secret_sealed, secret_key_id, delivered_seq)
SELECT $1, $2, $3, $4, $5, $6, $7,
    COALESCE((SELECT last_seq FROM directory.event_cursors WHERE account_id = $1), 0)
RETURNING {COLUMNS}
"""  # noqa: S608
_GET = f"SELECT {COLUMNS} FROM directory.webhook_endpoints WHERE account_id = $1 AND id = $2"  # noqa: S608
_LIST = f"""
SELECT {COLUMNS} FROM directory.webhook_endpoints WHERE account_id = $1 ORDER BY create_time, id
"""  # noqa: S608
_DELETE = "DELETE FROM directory.webhook_endpoints WHERE account_id = $1 AND id = $2 RETURNING id"
# The plaintext columns are cleared too: a row an older release wrote in plaintext (sealed at
# the next start-up otherwise) is sealed from here on, its previous secret not kept.
_ROTATE = f"""
UPDATE directory.webhook_endpoints
SET previous_secret_sealed = secret_sealed, previous_secret_key_id = secret_key_id,
    previous_secret_expire_time = $5, secret_sealed = $3, secret_key_id = $4,
    secret = '', previous_secret = '', version = version + 1, update_time = now()
WHERE account_id = $1 AND id = $2
RETURNING {COLUMNS}
"""  # noqa: S608
_DELIVERIES = """
SELECT id, event_id, event_seq, event_type, attempt, resend, succeeded, http_status, latency_ms,
    error, time
FROM directory.webhook_deliveries
WHERE account_id = $1 AND endpoint_id = $2
ORDER BY time DESC, id LIMIT $3
"""
_RESEND = """
INSERT INTO directory.webhook_resends (account_id, endpoint_id, event_seq)
SELECT $1, $2, e.seq FROM directory.events e WHERE e.account_id = $1 AND e.id = $3
ON CONFLICT DO NOTHING
RETURNING event_seq
"""
_EVENT_EXISTS = "SELECT 1 FROM directory.events WHERE account_id = $1 AND id = $2"


class WebhookStore:
    def __init__(self, pool: Pool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box

    async def create(
        self,
        account_id: UUID,
        url: str,
        types: list[str],
        description: str,
        secret: str,
        actor: Actor,
    ) -> asyncpg.Record:
        """A new endpoint receives the events committed after it. ``secret`` is stored sealed,
        bound to the endpoint's id (chosen here, so that it is known before the insert)."""
        webhook_id = uuid4()
        sealed = secrets.seal(self.box, account_id, webhook_id, secret)
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    _CREATE, account_id, webhook_id, url, types, description, sealed.ciphertext,
                    sealed.key_id,
                )  # fmt: skip
            except asyncpg.ForeignKeyViolationError:
                raise NotFound("account not found") from None
            assert row is not None
            await record_event(
                conn, account_id, actor, "webhook.created", "webhook", row["id"],
                {"url": url, "types": types},
            )  # fmt: skip
            return row

    async def get(self, account_id: UUID, webhook_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(_GET, account_id, webhook_id)
        if row is None:
            raise NotFound("webhook not found")
        return row

    async def list(self, account_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(_LIST, account_id)

    async def delete(self, account_id: UUID, webhook_id: UUID, actor: Actor) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(_DELETE, account_id, webhook_id) is None:
                raise NotFound("webhook not found")
            await record_event(
                conn, account_id, actor, "webhook.deleted", "webhook", webhook_id, {}
            )

    async def rotate(
        self,
        account_id: UUID,
        webhook_id: UUID,
        secret: str,
        previous_until: datetime,
        actor: Actor,
    ) -> asyncpg.Record:
        """The new secret signs from now on; the previous one signs too until
        ``previous_until``, so receivers switch without missing a delivery. Both stay sealed:
        the previous one's ciphertext moves without being decrypted."""
        sealed = secrets.seal(self.box, account_id, webhook_id, secret)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                _ROTATE, account_id, webhook_id, sealed.ciphertext, sealed.key_id, previous_until
            )
            if row is None:
                raise NotFound("webhook not found")
            await record_event(
                conn, account_id, actor, "webhook.secret_rotated", "webhook", webhook_id,
                {"previous_secret_expire_time": previous_until},
            )  # fmt: skip
            return row

    async def deliveries(
        self, account_id: UUID, webhook_id: UUID, limit: int
    ) -> builtins.list[asyncpg.Record]:
        await self.get(account_id, webhook_id)
        return await self.pool.fetch(_DELIVERIES, account_id, webhook_id, limit)

    async def resend(self, account_id: UUID, webhook_id: UUID, event_id: UUID) -> None:
        """Queues one more delivery of a retained event, beside the in-order stream."""
        await self.get(account_id, webhook_id)
        async with self.pool.acquire() as conn:
            if await conn.fetchval(_EVENT_EXISTS, account_id, event_id) is None:
                raise NotFound("event not found (or no longer retained)")
            await conn.fetchval(_RESEND, account_id, webhook_id, event_id)
            await conn.execute("SELECT pg_notify('directory_webhooks', $1)", str(account_id))
