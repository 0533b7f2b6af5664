"""Setup link storage: the SQL on schema auth, nothing else. Every query names the account or
looks a link up by the hash of a secret only its holder has."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg

_COLUMNS: Final = (
    "id, account_id, scopes, create_time, expire_time, open_time, revoke_time, finish_time,"
    " created_by, connection_id, scim_token_id, session_hash, expire_time <= now() AS expired"
)
_INSERT: Final = f"""
INSERT INTO auth.setup_links (id, account_id, scopes, secret_hash, expire_time, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {_COLUMNS}
"""  # noqa: S608 - constants
_LIST: Final = f"""
SELECT {_COLUMNS} FROM auth.setup_links
WHERE account_id = $1 AND ($2 OR (revoke_time IS NULL AND finish_time IS NULL
    AND expire_time > now()))
ORDER BY create_time DESC, id DESC LIMIT 200
"""  # noqa: S608
_GET: Final = f"SELECT {_COLUMNS} FROM auth.setup_links WHERE account_id = $1 AND id = $2"  # noqa: S608
_BY_SECRET: Final = f"SELECT {_COLUMNS} FROM auth.setup_links WHERE secret_hash = $1"  # noqa: S608
_BY_SESSION: Final = f"SELECT {_COLUMNS} FROM auth.setup_links WHERE session_hash = $1"  # noqa: S608
# coalesce keeps the first revocation time.
_REVOKE: Final = f"""
UPDATE auth.setup_links SET revoke_time = coalesce(revoke_time, now())
WHERE account_id = $1 AND id = $2
RETURNING {_COLUMNS}
"""  # noqa: S608
# One browser: only the first opening binds a session, whatever races it.
_OPEN: Final = f"""
UPDATE auth.setup_links SET open_time = now(), session_hash = $2
WHERE id = $1 AND open_time IS NULL AND revoke_time IS NULL AND finish_time IS NULL
    AND expire_time > now()
RETURNING {_COLUMNS}
"""  # noqa: S608
_UPDATE: Final = f"""
UPDATE auth.setup_links
SET connection_id = coalesce($3, connection_id), scim_token_id = coalesce($4, scim_token_id),
    finish_time = CASE WHEN $5 THEN coalesce(finish_time, now()) ELSE finish_time END
WHERE account_id = $1 AND id = $2
RETURNING {_COLUMNS}
"""  # noqa: S608


@dataclass(frozen=True)
class SetupLink:
    id: uuid.UUID
    account_id: uuid.UUID
    scopes: tuple[str, ...]
    create_time: datetime
    expire_time: datetime
    open_time: datetime | None
    revoke_time: datetime | None
    finish_time: datetime | None
    created_by: str
    connection_id: uuid.UUID | None
    scim_token_id: uuid.UUID | None
    session_hash: bytes | None = field(repr=False)
    expired: bool


def _link(row: asyncpg.Record) -> SetupLink:
    session_hash = row["session_hash"]
    return SetupLink(
        id=row["id"],
        account_id=row["account_id"],
        scopes=tuple(row["scopes"]),
        create_time=row["create_time"],
        expire_time=row["expire_time"],
        open_time=row["open_time"],
        revoke_time=row["revoke_time"],
        finish_time=row["finish_time"],
        created_by=row["created_by"],
        connection_id=row["connection_id"],
        scim_token_id=row["scim_token_id"],
        session_hash=bytes(session_hash) if session_hash is not None else None,
        expired=row["expired"],
    )


class SetupLinkStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(
        self, link_id: uuid.UUID, account_id: uuid.UUID, scopes: tuple[str, ...],
        secret_hash: bytes, expire_time: datetime, created_by: str,
    ) -> SetupLink:  # fmt: skip
        row = await self._pool.fetchrow(
            _INSERT, link_id, account_id, list(scopes), secret_hash, expire_time, created_by
        )
        assert row is not None
        return _link(row)

    async def list(self, account_id: uuid.UUID, *, include_inactive: bool) -> list[SetupLink]:
        """The account's links, newest first (at most 200)."""
        return [_link(r) for r in await self._pool.fetch(_LIST, account_id, include_inactive)]

    async def get(self, account_id: uuid.UUID, link_id: uuid.UUID) -> SetupLink | None:
        row = await self._pool.fetchrow(_GET, account_id, link_id)
        return _link(row) if row is not None else None

    async def by_secret(self, secret_hash: bytes) -> SetupLink | None:
        row = await self._pool.fetchrow(_BY_SECRET, secret_hash)
        return _link(row) if row is not None else None

    async def by_session(self, session_hash: bytes) -> SetupLink | None:
        row = await self._pool.fetchrow(_BY_SESSION, session_hash)
        return _link(row) if row is not None else None

    async def revoke(self, account_id: uuid.UUID, link_id: uuid.UUID) -> SetupLink | None:
        row = await self._pool.fetchrow(_REVOKE, account_id, link_id)
        return _link(row) if row is not None else None

    async def open(self, link_id: uuid.UUID, session_hash: bytes) -> SetupLink | None:
        """Binds the link to a browser's session; None when it was opened (or ended) first."""
        row = await self._pool.fetchrow(_OPEN, link_id, session_hash)
        return _link(row) if row is not None else None

    async def update(
        self, account_id: uuid.UUID, link_id: uuid.UUID, *, connection_id: uuid.UUID | None,
        scim_token_id: uuid.UUID | None, finish: bool,
    ) -> SetupLink | None:  # fmt: skip
        row = await self._pool.fetchrow(
            _UPDATE, account_id, link_id, connection_id, scim_token_id, finish
        )
        return _link(row) if row is not None else None
