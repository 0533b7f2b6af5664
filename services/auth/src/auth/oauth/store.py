"""OAuth client storage on schema ``auth``: the SQL, nothing else (one statement per method).

The secret hash is only ever read by ``credentials``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg

from auth.pagination import Cursor


@dataclass(frozen=True)
class OAuthClient:
    """A stored client as callers may see it: never its hash, never its secret."""

    id: uuid.UUID
    account_id: uuid.UUID
    description: str
    permissions: tuple[str, ...]
    create_time: datetime
    rotate_time: datetime | None
    revoke_time: datetime | None
    last_used_time: datetime | None
    created_by: str


@dataclass(frozen=True)
class ClientCredentials:
    """What the token endpoint needs to authenticate a client."""

    id: uuid.UUID
    account_id: uuid.UUID
    permissions: tuple[str, ...]
    secret_hash: bytes = field(repr=False)
    revoke_time: datetime | None


_COLUMNS: Final = (
    "id, account_id, description, permissions, create_time, rotate_time, revoke_time,"
    " last_used_time, created_by"
)
_INSERT: Final = f"""
INSERT INTO auth.oauth_clients (id, account_id, description, permissions, secret_hash, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {_COLUMNS}
"""  # noqa: S608 (a constant column list, no input)
_LIST_FIRST: Final = f"""
SELECT {_COLUMNS} FROM auth.oauth_clients
WHERE account_id = $1 AND ($2 OR revoke_time IS NULL)
ORDER BY create_time, id
LIMIT $3
"""  # noqa: S608
_LIST_AFTER: Final = f"""
SELECT {_COLUMNS} FROM auth.oauth_clients
WHERE account_id = $1 AND ($2 OR revoke_time IS NULL) AND (create_time, id) > ($4, $5)
ORDER BY create_time, id
LIMIT $3
"""  # noqa: S608
# A revoked client stays revoked: rotating it is NOT_FOUND rather than a resurrection.
_ROTATE: Final = f"""
UPDATE auth.oauth_clients SET secret_hash = $3, rotate_time = now()
WHERE id = $1 AND account_id = $2 AND revoke_time IS NULL
RETURNING {_COLUMNS}
"""  # noqa: S608
_REVOKE: Final = f"""
UPDATE auth.oauth_clients SET revoke_time = coalesce(revoke_time, now())
WHERE id = $1 AND account_id = $2
RETURNING {_COLUMNS}
"""  # noqa: S608
_GET: Final = f"""
SELECT {_COLUMNS} FROM auth.oauth_clients WHERE id = $1 AND account_id = $2
"""  # noqa: S608
_CREDENTIALS: Final = """
SELECT id, account_id, permissions, secret_hash, revoke_time FROM auth.oauth_clients WHERE id = $1
"""
_TOUCH: Final = """
UPDATE auth.oauth_clients SET last_used_time = now()
WHERE id = $1 AND (last_used_time IS NULL OR last_used_time < now() - interval '1 minute')
"""


def _client(row: asyncpg.Record) -> OAuthClient:
    return OAuthClient(
        id=row["id"],
        account_id=row["account_id"],
        description=row["description"],
        permissions=tuple(row["permissions"]),
        create_time=row["create_time"],
        rotate_time=row["rotate_time"],
        revoke_time=row["revoke_time"],
        last_used_time=row["last_used_time"],
        created_by=row["created_by"],
    )


class OAuthClientStore:
    """OAuth clients in PostgreSQL, through a pool created at start-up."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(
        self,
        client_id: uuid.UUID,
        account_id: uuid.UUID,
        description: str,
        permissions: tuple[str, ...],
        secret_hash: bytes,
        created_by: str,
    ) -> OAuthClient:
        row = await self._pool.fetchrow(
            _INSERT, client_id, account_id, description, list(permissions), secret_hash, created_by
        )
        assert row is not None  # INSERT ... RETURNING always returns the row
        return _client(row)

    async def list_page(
        self, account_id: uuid.UUID, *, limit: int, after: Cursor | None, include_revoked: bool
    ) -> list[OAuthClient]:
        """Up to ``limit`` clients of ``account_id`` by (create_time, id), after ``after``."""
        if after is None:
            rows = await self._pool.fetch(_LIST_FIRST, account_id, include_revoked, limit)
        else:
            rows = await self._pool.fetch(
                _LIST_AFTER, account_id, include_revoked, limit, after.create_time, after.id
            )
        return [_client(row) for row in rows]

    async def rotate(
        self, account_id: uuid.UUID, client_id: uuid.UUID, secret_hash: bytes
    ) -> OAuthClient | None:
        """Replaces the secret of a live client of ``account_id``; None when there is none."""
        row = await self._pool.fetchrow(_ROTATE, client_id, account_id, secret_hash)
        return None if row is None else _client(row)

    async def revoke(self, account_id: uuid.UUID, client_id: uuid.UUID) -> OAuthClient | None:
        """Revokes (keeping an earlier revocation time); None when ``account_id`` has no such
        client, so another account's client is indistinguishable from none."""
        row = await self._pool.fetchrow(_REVOKE, client_id, account_id)
        return None if row is None else _client(row)

    async def get(self, account_id: uuid.UUID, client_id: uuid.UUID) -> OAuthClient | None:
        """Client ``client_id`` of ``account_id`` (revoked ones included), or None."""
        row = await self._pool.fetchrow(_GET, client_id, account_id)
        return None if row is None else _client(row)

    async def credentials(self, client_id: uuid.UUID) -> ClientCredentials | None:
        row = await self._pool.fetchrow(_CREDENTIALS, client_id)
        if row is None:
            return None
        return ClientCredentials(
            id=row["id"],
            account_id=row["account_id"],
            permissions=tuple(row["permissions"]),
            secret_hash=bytes(row["secret_hash"]),
            revoke_time=row["revoke_time"],
        )

    async def touch(self, client_id: uuid.UUID) -> None:
        await self._pool.execute(_TOUCH, client_id)
