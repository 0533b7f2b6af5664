"""Forward-only SQL migrations.

Each storing service keeps numbered files (``0001_accounts.sql``, ``0002_...``) in its own
``migrations`` folder and its own PostgreSQL schema. ``apply_migrations`` applies the ones not yet
recorded, all in one transaction, under an advisory lock so that replicas starting together do
not race. A recorded file whose content changed is refused: migrations are never edited.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    pass


def load_migrations(folder: Path) -> list[Migration]:
    """The migrations in ``folder``, in order; gaps, duplicates and stray names are errors."""
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration names are NNNN_snake_case.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    for expected, migration in enumerate(migrations, start=1):
        if migration.number != expected:
            raise MigrationError(f"{migration.name}: expected migration number {expected:04d}")
    return migrations


async def apply_migrations(
    conn: asyncpg.Connection | PoolConnectionProxy, schema: str, folder: Path
) -> list[str]:
    """Applies the pending migrations of ``folder`` to ``schema``; returns the names applied."""
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    migrations = load_migrations(folder)
    lock_key = zlib.crc32(f"idmesh-migrate:{schema}".encode())
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " number integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f'SELECT number, name, checksum FROM "{schema}".schema_migrations')  # noqa: S608
        applied = {row["number"]: row for row in rows}
        done = []
        for migration in migrations:
            row = applied.get(migration.number)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (number, name, checksum)'  # noqa: S608
                " VALUES ($1, $2, $3)",
                migration.number,
                migration.name,
                migration.checksum,
            )
            done.append(migration.name)
        # Migrations newer than this code (a rollout in progress) are left alone: they only add.
        return done
