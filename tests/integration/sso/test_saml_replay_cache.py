"""The SAML replay cache on PostgreSQL (docs/sso-security.md §2 row 8; OWASP "OneTimeUse";
Keycloak CVE-2026-18967): a validated response is accepted once, by whichever auth replica sees
it first, until its assertion expires."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from auth.sso.saml.replay import PostgresReplayCache
from auth.sso.saml.validator import validate_response
from meshkit.database import create_pool
from tests.idps.saml.responses import encode
from tests.unit.auth.test_auth_saml_attacks import EXPECT, _signed

pytestmark = pytest.mark.integration


@pytest.fixture
async def second_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Another replica's own pool on the same database."""
    created = await create_pool(database_url, min_size=1, max_size=2)
    yield created
    await created.close()


def _ids(saml_response: str) -> tuple[list[tuple[str, str]], float]:
    valid = validate_response(saml_response, EXPECT, time.time())
    return [("response", valid.response_id), ("assertion", valid.assertion_id)], valid.expire_at


async def test_a_response_is_accepted_once_and_refused_when_posted_twice_in_a_row(
    pool: asyncpg.Pool,
) -> None:
    """Row 8: the same genuine response, twice in a row on one replica."""
    cache = PostgresReplayCache(pool)
    connection_id = uuid.uuid4()
    ids, expire_at = _ids(encode(_signed()))
    assert await cache.claim(connection_id, ids, expire_at) is True
    assert await cache.claim(connection_id, ids, expire_at) is False


async def test_a_response_accepted_by_one_replica_is_refused_by_another(
    pool: asyncpg.Pool, second_pool: asyncpg.Pool
) -> None:
    """Row 8: the cache is shared by every auth replica through the database."""
    connection_id = uuid.uuid4()
    ids, expire_at = _ids(encode(_signed()))
    assert await PostgresReplayCache(pool).claim(connection_id, ids, expire_at) is True
    assert await PostgresReplayCache(second_pool).claim(connection_id, ids, expire_at) is False


async def test_two_replicas_racing_on_one_response_let_exactly_one_win(
    pool: asyncpg.Pool, second_pool: asyncpg.Pool
) -> None:
    """Row 8: the primary key decides a race, not a read-then-write."""
    connection_id = uuid.uuid4()
    ids, expire_at = _ids(encode(_signed()))
    results = await asyncio.gather(
        PostgresReplayCache(pool).claim(connection_id, ids, expire_at),
        PostgresReplayCache(second_pool).claim(connection_id, ids, expire_at),
    )
    assert sorted(results) == [False, True]


async def test_a_reused_assertion_in_a_fresh_response_is_still_a_replay(
    pool: asyncpg.Pool,
) -> None:
    """Row 8: Assertion IDs are claimed as well as Response IDs; a refused replay claims none."""
    cache = PostgresReplayCache(pool)
    connection_id = uuid.uuid4()
    assertion_id = "_" + uuid.uuid4().hex
    expire_at = time.time() + 300
    first = [("response", "_r1" + assertion_id), ("assertion", assertion_id)]
    second = [("response", "_r2" + assertion_id), ("assertion", assertion_id)]
    assert await cache.claim(connection_id, first, expire_at) is True
    assert await cache.claim(connection_id, second, expire_at) is False
    fresh = [("response", "_r2" + assertion_id), ("assertion", "_other" + assertion_id)]
    assert await cache.claim(connection_id, fresh, expire_at) is True


async def test_ids_are_scoped_to_their_connection_and_expired_ones_are_purged(
    pool: asyncpg.Pool,
) -> None:
    """Tenant isolation: one connection's ids never block another's; rows past their expiry
    are swept."""
    cache = PostgresReplayCache(pool)
    ids = [("assertion", "_" + uuid.uuid4().hex)]
    assert await cache.claim(uuid.uuid4(), ids, time.time() + 300) is True
    assert await cache.claim(uuid.uuid4(), ids, time.time() + 300) is True
    gone = uuid.uuid4()
    assert await cache.claim(gone, [("assertion", "_old")], time.time() - 1) is True
    assert await cache.purge() >= 1
    assert await cache.claim(gone, [("assertion", "_old")], time.time() + 300) is True
