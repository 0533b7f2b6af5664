"""meshkit.migrate: forward-only migrations under an advisory lock, in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from meshkit.migrate import MigrationError, apply_migrations
from meshkit.testing import PostgresServer


@pytest.fixture
async def empty_database(postgres: PostgresServer) -> AsyncIterator[str]:
    url = await postgres.create_database()
    yield url
    await postgres.drop_database(url)


def _write(folder: Path, name: str, sql: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(sql)


async def test_pending_migrations_apply_once_and_in_order(
    empty_database: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    _write(tmp_path, "0002_more.sql", "ALTER TABLE things ADD COLUMN name text;")
    conn = await asyncpg.connect(empty_database)
    try:
        assert await apply_migrations(conn, "probe", tmp_path) == [
            "0001_things.sql",
            "0002_more.sql",
        ]
        assert await apply_migrations(conn, "probe", tmp_path) == []
        await conn.execute("INSERT INTO probe.things (id, name) VALUES (1, 'x')")
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(
    empty_database: str, tmp_path: Path
) -> None:
    """One transaction: a broken second file rolls back the first as well."""
    _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    _write(tmp_path, "0002_broken.sql", "ALTER TABLE nowhere ADD COLUMN x int;")
    conn = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await apply_migrations(conn, "probe", tmp_path)
        exists = await conn.fetchval("SELECT to_regclass('probe.things') IS NOT NULL")
        assert exists is False
    finally:
        await conn.close()


async def test_an_applied_migration_that_was_edited_is_refused(
    empty_database: str, tmp_path: Path
) -> None:
    """Forward-only: history is never rewritten; a changed file is a mistake to surface."""
    _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    conn = await asyncpg.connect(empty_database)
    try:
        await apply_migrations(conn, "probe", tmp_path)
        _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id bigint PRIMARY KEY);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn, "probe", tmp_path)
    finally:
        await conn.close()


async def test_replicas_migrating_together_apply_each_file_once(
    empty_database: str, tmp_path: Path
) -> None:
    """The advisory lock serialises replicas that start at the same time."""
    _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    connections = [await asyncpg.connect(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(apply_migrations(conn, "probe", tmp_path) for conn in connections)
        )
        assert sorted(len(applied) for applied in results) == [0, 0, 0, 1]
    finally:
        for conn in connections:
            await conn.close()


def test_a_gap_in_the_numbering_is_refused(tmp_path: Path) -> None:
    from meshkit.migrate import load_migrations

    _write(tmp_path, "0001_a.sql", "SELECT 1;")
    _write(tmp_path, "0003_c.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="expected migration number 0002"):
        load_migrations(tmp_path)
