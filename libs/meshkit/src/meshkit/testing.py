"""Test helpers shared by every suite: a real PostgreSQL, fresh databases, migrated schemas."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import asyncpg

from meshkit.localdb import LocalPostgres
from meshkit.migrate import apply_migrations


async def _reachable(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


class PostgresServer:
    """The server tests run against: TEST_DATABASE_URL when it is set and answers, otherwise a
    throwaway cluster started for the session (docs/real-idps.md §8)."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._cluster: LocalPostgres | None = None
        self.admin_url = ""

    async def start(self) -> str:
        url = os.environ.get("TEST_DATABASE_URL", "")
        if url and await _reachable(url):
            self.admin_url = url
            return url
        # Under /tmp rather than a home folder: as root the cluster's own user must reach it.
        self._folder = tempfile.TemporaryDirectory(prefix="idmesh-pg-")
        self._cluster = LocalPostgres(Path(self._folder.name) / "data", durable=False)
        self.admin_url = self._cluster.start()
        return self.admin_url

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
        if self._folder is not None:
            self._folder.cleanup()

    async def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        name = f"idmesh_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            clause = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{name}"{clause}')
        finally:
            await conn.close()
        return database_url(self.admin_url, name)

    async def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``."""
    base, _, rest = server_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{rest}" if rest else "")


async def migrate(url: str, schemas: dict[str, Path]) -> None:
    """Applies each service's migrations (schema name → migrations folder) to ``url``."""
    conn = await asyncpg.connect(url)
    try:
        for schema, folder in schemas.items():
            await apply_migrations(conn, schema, folder)
    finally:
        await conn.close()
