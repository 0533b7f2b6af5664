"""API token verification and its in-process cache (auth/verifier.py, auth/cache.py), against an
in-memory store and fake clocks: no I/O."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auth import tokens
from auth.cache import CredentialsCache
from auth.models import TokenCredentials
from auth.verifier import INVALID_TOKEN, TOUCH_INTERVAL_SECONDS, ApiTokenVerifier
from meshkit.errors import Unauthenticated

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def wall(self) -> datetime:
        return NOW + timedelta(seconds=self.seconds - 1000.0)


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, TokenCredentials] = {}
        self.reads = 0
        self.touches: list[uuid.UUID] = []
        self.fail_touch = False

    async def credentials(self, token_id: uuid.UUID) -> TokenCredentials | None:
        self.reads += 1
        return self.rows.get(token_id)

    async def touch(self, token_id: uuid.UUID) -> None:
        if self.fail_touch:
            raise OSError("connection reset")
        self.touches.append(token_id)

    def add(self, *, expire_time: datetime | None = None) -> str:
        minted = tokens.mint_secret()
        self.rows[minted.token_id] = TokenCredentials(
            id=minted.token_id,
            account_id=uuid.uuid4(),
            permissions=("users:manage",),
            secret_hash=minted.secret_hash,
            expire_time=expire_time,
            revoke_time=None,
        )
        return minted.secret

    def revoke(self, token_id: uuid.UUID) -> None:
        self.rows[token_id] = dataclasses.replace(self.rows[token_id], revoke_time=NOW)


def make(ttl: float = 5.0) -> tuple[ApiTokenVerifier, FakeStore, Clock]:
    store, clock = FakeStore(), Clock()
    cache = CredentialsCache(ttl, clock=clock)
    return ApiTokenVerifier(store, cache, clock=clock.wall, monotonic=clock), store, clock


async def assert_refused(verifier: ApiTokenVerifier, secret: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(secret)
    assert caught.value.message == INVALID_TOKEN == "invalid or expired token"


async def test_a_valid_secret_answers_its_account_and_permissions() -> None:
    """VerifyApiToken answers which account and permissions a secret carries."""
    verifier, store, _ = make()
    secret = store.add()
    credentials = await verifier.verify(secret)
    assert credentials == store.rows[credentials.id]


async def test_malformed_unknown_tampered_revoked_and_expired_secrets_fail_alike() -> None:
    """One Unauthenticated("invalid or expired token") for every failure: no oracle."""
    verifier, store, _ = make()
    good = store.add()
    revoked = store.add()
    store.revoke(tokens.parse_token_id(revoked) or uuid.uuid4())
    expired = store.add(expire_time=NOW - timedelta(seconds=1))
    unknown = tokens.mint_secret().secret
    tampered = good[:-1] + ("x" if good[-1] != "x" else "y")
    for secret in ["not-a-token", unknown, tampered, revoked, expired]:
        await assert_refused(verifier, secret)
    assert store.reads == 4  # the malformed secret never reached the store


async def test_a_malformed_secret_costs_no_lookup() -> None:
    """Parsing comes first: garbage cannot load the database."""
    verifier, store, _ = make()
    await assert_refused(verifier, "idm_" + "x" * 76)
    assert store.reads == 0


async def test_a_cached_token_is_verified_without_another_read_within_the_ttl() -> None:
    """The hot path: repeated verifications within the TTL do not read the database."""
    verifier, store, clock = make(ttl=5.0)
    secret = store.add()
    await verifier.verify(secret)
    clock.seconds += 4.9
    await verifier.verify(secret)
    assert store.reads == 1
    clock.seconds += 0.2
    await verifier.verify(secret)
    assert store.reads == 2


async def test_a_cached_token_still_refuses_a_tampered_secret() -> None:
    """The cache holds the hash, and every use compares it: a cache hit is no shortcut."""
    verifier, store, _ = make()
    secret = store.add()
    await verifier.verify(secret)
    await assert_refused(verifier, secret[:-1] + ("x" if secret[-1] != "x" else "y"))


async def test_a_revocation_elsewhere_takes_effect_within_the_ttl() -> None:
    """Another replica's revocation is honoured after at most the TTL (≤ 5 s)."""
    verifier, store, clock = make(ttl=5.0)
    secret = store.add()
    token_id = tokens.parse_token_id(secret) or uuid.uuid4()
    await verifier.verify(secret)
    store.revoke(token_id)
    clock.seconds += 5.0
    await assert_refused(verifier, secret)


async def test_a_revocation_in_this_process_takes_effect_immediately() -> None:
    """RevokeApiToken in the same process evicts the cached token at once."""
    verifier, store, _ = make(ttl=5.0)
    secret = store.add()
    token_id = tokens.parse_token_id(secret) or uuid.uuid4()
    await verifier.verify(secret)
    store.revoke(token_id)
    verifier.evict(token_id)
    await assert_refused(verifier, secret)


async def test_a_cached_token_expires_on_time_not_a_ttl_later() -> None:
    """Expiry is checked against the clock on every use, cached or not."""
    verifier, store, clock = make(ttl=5.0)
    secret = store.add(expire_time=NOW + timedelta(seconds=2))
    await verifier.verify(secret)
    clock.seconds += 2.0
    await assert_refused(verifier, secret)
    assert store.reads == 1


def test_a_read_started_before_an_eviction_is_not_cached() -> None:
    """A load racing a revocation could carry the old row; it must not outlive the eviction."""
    clock = Clock()
    cache = CredentialsCache(5.0, clock=clock)
    credentials = TokenCredentials(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        permissions=("users:read",),
        secret_hash=b"\0" * 32,
        expire_time=None,
        revoke_time=None,
    )
    loaded_at = cache.now()
    clock.seconds += 0.01
    cache.evict(credentials.id)
    clock.seconds += 0.01
    cache.put(credentials, loaded_at)
    assert cache.get(credentials.id) is None
    cache.put(credentials, cache.now())
    assert cache.get(credentials.id) == credentials


def test_the_cache_never_holds_more_than_its_maximum() -> None:
    """Memory is bounded: the oldest entries go first."""
    clock = Clock()
    cache = CredentialsCache(5.0, max_entries=3, clock=clock)
    ids = [uuid.uuid4() for _ in range(5)]
    for token_id in ids:
        cache.put(
            TokenCredentials(token_id, uuid.uuid4(), ("users:read",), b"\0" * 32, None, None),
            cache.now(),
        )
    assert [cache.get(token_id) is not None for token_id in ids] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_a_cache_ttl_above_five_seconds_is_refused() -> None:
    """The TTL bounds how late a revocation is honoured: at most 5 s."""
    with pytest.raises(ValueError, match="TTL"):
        CredentialsCache(5.1)


async def test_last_use_is_recorded_at_most_once_a_minute_per_token() -> None:
    """last_used_time is updated cheaply: at most once per minute per token, off the hot path."""
    verifier, store, clock = make()
    secret = store.add()
    for _ in range(3):
        await verifier.verify(secret)
        clock.seconds += 1
    await verifier.aclose()
    assert len(store.touches) == 1
    clock.seconds += TOUCH_INTERVAL_SECONDS
    await verifier.verify(secret)
    await verifier.aclose()
    assert len(store.touches) == 2


async def test_a_failed_last_use_update_does_not_fail_the_verification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The update is fire-and-forget with its own error logging, and logs no secret."""
    verifier, store, _ = make()
    store.fail_touch = True
    secret = store.add()
    await verifier.verify(secret)
    await verifier.aclose()
    await asyncio.sleep(0)
    assert "could not record the last use" in caplog.text
    assert secret not in caplog.text
