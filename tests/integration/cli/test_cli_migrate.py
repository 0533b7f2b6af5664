"""idmesh migrate: every service's packaged migrations, applied to DATABASE_URL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from meshkit.testing import PostgresServer

Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
async def empty_database(postgres: PostgresServer) -> AsyncIterator[str]:
    url = await postgres.create_database()
    yield url
    await postgres.drop_database(url)


async def test_migrate_applies_each_schema_once(idmesh: Idmesh, empty_database: str) -> None:
    """Schemas directory and auth from the installed packages; a second run changes nothing."""
    env = {"DATABASE_URL": empty_database}
    code, out, err = await idmesh("migrate", env=env)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["directory", "auth"]
    assert all(": applied 0001_" in line for line in lines)
    code, out, _ = await idmesh("migrate", "--json", env=env)
    assert code == 0
    assert json.loads(out) == {"applied": {"directory": [], "auth": []}}
    conn = await asyncpg.connect(empty_database)
    try:
        for schema in ("directory", "auth"):
            count = await conn.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations")
            assert count >= 1
    finally:
        await conn.close()


async def test_migrate_without_database_url_is_a_configuration_error(idmesh: Idmesh) -> None:
    """Exit 2 for configuration: meshkit.config names the missing variable."""
    code, out, err = await idmesh("migrate", env={"DATABASE_URL": ""})
    assert (code, out) == (2, "")
    assert err.startswith("error: DATABASE_URL is required")


async def test_an_unreachable_database_is_reported_without_its_password(
    idmesh: Idmesh,
) -> None:
    """No secrets in output: the URL is shown as host:port/database only."""
    url = "postgresql://admin:hunter2@127.0.0.1:1/idmesh"
    code, _, err = await idmesh("migrate", env={"DATABASE_URL": url})
    assert code == 1
    assert err.startswith("error: cannot reach PostgreSQL at 127.0.0.1:1/idmesh")
    assert "hunter2" not in err
