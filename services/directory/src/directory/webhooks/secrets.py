"""Webhook signing secrets at rest: sealed with the mesh's secretbox (meshkit.secretbox,
``IDMESH_ENCRYPTION_KEY``) by directory when an endpoint is created or its secret rotated,
opened by the deliverer to sign each delivery.

Each ciphertext is bound to its purpose and its endpoint (account and endpoint id): copied into
another endpoint's row, or into a column of another kind of secret, it does not decrypt. The
current and the previous secret of one endpoint share the binding on purpose: the previous one is
the endpoint's former current secret, moved by a rotation without being decrypted.

Rows written before migration 0007 hold their secrets in plaintext; ``seal_plaintext_secrets``
seals them (directory and the deliverer run it at start-up, the deliverer also periodically).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from directory.store.base import Pool
from meshkit.secretbox import Sealed, SecretBox

logger = logging.getLogger(__name__)

_PURPOSE = "idmesh webhook signing_secret"

# Rows still in plaintext, locked until their sealed form commits: replicas running this at once
# seal each row once (a second one waits for the lock, then no longer finds the row).
_PLAINTEXT = """
SELECT account_id, id, secret, previous_secret
FROM directory.webhook_endpoints
WHERE secret_sealed IS NULL
ORDER BY account_id, id
FOR UPDATE
"""
_SEAL = """
UPDATE directory.webhook_endpoints
SET secret_sealed = $3, secret_key_id = $4,
    previous_secret_sealed = $5, previous_secret_key_id = $6,
    secret = '', previous_secret = ''
WHERE account_id = $1 AND id = $2
"""


def associated_data(account_id: UUID, webhook_id: UUID) -> bytes:
    """What a webhook secret's ciphertext is bound to: its purpose and its endpoint."""
    return f"{_PURPOSE}|{account_id}|{webhook_id}".encode()


def seal(box: SecretBox, account_id: UUID, webhook_id: UUID, secret: str) -> Sealed:
    return box.seal(secret, associated_data(account_id, webhook_id))


def signing_secrets(box: SecretBox, endpoint: asyncpg.Record, now: datetime) -> list[str]:
    """The secrets that sign a delivery to ``endpoint`` (a row of directory.webhooks.queue):
    its current one, and its previous one until the rotation's overlap ends. SecretBoxError
    when one does not open (the key is not configured, or the row was tampered with)."""
    bound = associated_data(endpoint["account_id"], endpoint["id"])
    secrets = [box.open(Sealed(endpoint["secret_key_id"], endpoint["secret_sealed"]), bound)]
    until = endpoint["previous_secret_expire_time"]
    if endpoint["previous_secret_sealed"] is not None and until is not None and until > now:
        previous = Sealed(endpoint["previous_secret_key_id"], endpoint["previous_secret_sealed"])
        secrets.append(box.open(previous, bound))
    return secrets


async def seal_plaintext_secrets(pool: Pool, box: SecretBox) -> int:
    """Seals every secret still stored in plaintext and clears the plaintext, in one
    transaction; the number of endpoints sealed (0 once done: the step is idempotent)."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_PLAINTEXT)
        if rows:
            await conn.executemany(_SEAL, [_sealed_row(box, row) for row in rows])
    if rows:
        logger.info("sealed the plaintext signing secrets of %d webhook endpoints", len(rows))
    return len(rows)


def _sealed_row(box: SecretBox, row: asyncpg.Record) -> Sequence[object]:
    current = seal(box, row["account_id"], row["id"], row["secret"])
    previous = (
        seal(box, row["account_id"], row["id"], row["previous_secret"])
        if row["previous_secret"]
        else None
    )
    return (
        row["account_id"],
        row["id"],
        current.ciphertext,
        current.key_id,
        previous.ciphertext if previous else None,
        previous.key_id if previous else None,
    )
