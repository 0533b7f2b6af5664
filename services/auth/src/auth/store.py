"""API token storage: the SQL on schema ``auth``, nothing else.

Each method is one statement (atomic on its own, so no explicit transaction). Columns are listed
explicitly, and the hash column is only ever read by ``credentials``.
"""

from __future__ import annotations

import uuid
from typing import Final

import asyncpg

from auth.models import ApiToken, NewApiToken, TokenCredentials
from auth.pagination import Cursor

_PUBLIC_COLUMNS: Final = (
    "id, account_id, description, permissions, create_time, expire_time, revoke_time,"
    " last_used_time, created_by"
)

_INSERT: Final = f"""
INSERT INTO auth.api_tokens
    (id, account_id, description, permissions, secret_hash, expire_time, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {_PUBLIC_COLUMNS}
"""  # noqa: S608 (a constant column list, no input)

# Two statements rather than one with "$n IS NULL OR ...": each keeps a plan that walks the
# (account_id, create_time, id) index in order and stops at the limit.
_LIST_FIRST: Final = f"""
SELECT {_PUBLIC_COLUMNS} FROM auth.api_tokens
WHERE account_id = $1 AND ($2 OR revoke_time IS NULL)
ORDER BY create_time, id
LIMIT $3
"""  # noqa: S608
_LIST_AFTER: Final = f"""
SELECT {_PUBLIC_COLUMNS} FROM auth.api_tokens
WHERE account_id = $1 AND ($2 OR revoke_time IS NULL) AND (create_time, id) > ($4, $5)
ORDER BY create_time, id
LIMIT $3
"""  # noqa: S608

# coalesce keeps the first revocation time: revoking twice returns the token unchanged.
_REVOKE: Final = f"""
UPDATE auth.api_tokens SET revoke_time = coalesce(revoke_time, now())
WHERE id = $1 AND account_id = $2
RETURNING {_PUBLIC_COLUMNS}
"""  # noqa: S608

_GET: Final = f"""
SELECT {_PUBLIC_COLUMNS} FROM auth.api_tokens WHERE id = $1 AND account_id = $2
"""  # noqa: S608

# The hot path: one primary-key lookup.
_CREDENTIALS: Final = """
SELECT id, account_id, permissions, secret_hash, expire_time, revoke_time
FROM auth.api_tokens WHERE id = $1
"""

# At most one write per token per minute whichever replica verifies it.
_TOUCH: Final = """
UPDATE auth.api_tokens SET last_used_time = now()
WHERE id = $1 AND (last_used_time IS NULL OR last_used_time < now() - interval '1 minute')
"""


def _token(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=row["id"],
        account_id=row["account_id"],
        description=row["description"],
        permissions=tuple(row["permissions"]),
        create_time=row["create_time"],
        expire_time=row["expire_time"],
        revoke_time=row["revoke_time"],
        last_used_time=row["last_used_time"],
        created_by=row["created_by"],
    )


class ApiTokenStore:
    """API tokens in PostgreSQL, through a pool created at start-up."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, token: NewApiToken) -> ApiToken:
        """Stores ``token``; create_time is the database's now()."""
        row = await self._pool.fetchrow(
            _INSERT,
            token.id,
            token.account_id,
            token.description,
            list(token.permissions),
            token.secret_hash,
            token.expire_time,
            token.created_by,
        )
        assert row is not None  # INSERT ... RETURNING always returns the row
        return _token(row)

    async def list_page(
        self,
        account_id: uuid.UUID,
        *,
        limit: int,
        after: Cursor | None,
        include_revoked: bool,
    ) -> list[ApiToken]:
        """Up to ``limit`` tokens of ``account_id`` ordered by (create_time, id), strictly after
        ``after`` when given."""
        if after is None:
            rows = await self._pool.fetch(_LIST_FIRST, account_id, include_revoked, limit)
        else:
            rows = await self._pool.fetch(
                _LIST_AFTER, account_id, include_revoked, limit, after.create_time, after.id
            )
        return [_token(row) for row in rows]

    async def revoke(self, account_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken | None:
        """Revokes the token (keeping an earlier revocation time); None when ``account_id`` has
        no token ``token_id``, so another account's token is indistinguishable from none."""
        row = await self._pool.fetchrow(_REVOKE, token_id, account_id)
        return None if row is None else _token(row)

    async def get(self, account_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken | None:
        """Token ``token_id`` of ``account_id`` (revoked ones included), or None."""
        row = await self._pool.fetchrow(_GET, token_id, account_id)
        return None if row is None else _token(row)

    async def credentials(self, token_id: uuid.UUID) -> TokenCredentials | None:
        """The verification view of token ``token_id``, revoked or expired ones included (the
        caller decides, so that every failure looks the same), or None."""
        row = await self._pool.fetchrow(_CREDENTIALS, token_id)
        if row is None:
            return None
        return TokenCredentials(
            id=row["id"],
            account_id=row["account_id"],
            permissions=tuple(row["permissions"]),
            secret_hash=bytes(row["secret_hash"]),
            expire_time=row["expire_time"],
            revoke_time=row["revoke_time"],
        )

    async def touch(self, token_id: uuid.UUID) -> None:
        """Records a use of the token now, unless one was recorded in the last minute."""
        await self._pool.execute(_TOUCH, token_id)
