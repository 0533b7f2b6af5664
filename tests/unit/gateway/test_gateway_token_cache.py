"""gateway.token_cache: verified tokens are reused briefly, never beyond their TTL."""

from __future__ import annotations

import pytest

from gateway.token_cache import TokenCache


def test_a_verified_token_is_reused_until_its_ttl_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Revocation takes effect within the TTL: an entry is never served after it."""
    now = [100.0]
    monkeypatch.setattr("gateway.token_cache.time.monotonic", lambda: now[0])
    cache: TokenCache[str] = TokenCache(ttl=5)
    cache.put("idm_secret", "principal")
    now[0] = 104.9
    assert cache.get("idm_secret") == "principal"
    now[0] = 105.0
    assert cache.get("idm_secret") is None


def test_a_zero_ttl_turns_the_cache_off() -> None:
    cache: TokenCache[str] = TokenCache(ttl=0)
    cache.put("idm_secret", "principal")
    assert cache.get("idm_secret") is None


def test_the_cache_holds_digests_not_secrets() -> None:
    """Security: no secret is kept in memory structures that outlive the request."""
    cache: TokenCache[str] = TokenCache(ttl=5)
    cache.put("idm_secret", "principal")
    assert all(b"idm_secret" not in key for key in cache._entries)


def test_memory_stays_bounded_by_dropping_the_oldest_entries() -> None:
    cache: TokenCache[str] = TokenCache(ttl=5, max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, name)
    assert cache.get("a") is None
    assert (cache.get("b"), cache.get("c")) == ("b", "c")
