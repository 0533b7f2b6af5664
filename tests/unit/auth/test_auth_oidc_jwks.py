"""The JWKS cache: key rotation without a restart, ONE rate-limited refetch on an unknown kid,
asymmetric keys only (docs/sso-security.md §3 "JWKS cache"; RFC 8725)."""

from __future__ import annotations

from typing import Any

import pytest

from auth.sso.http import IdpHttp, IdpHttpError, JsonResponse
from auth.sso.oidc.jwks import JwksCache, SigningKeyError, max_age, parse_key_set
from tests.idps.oidc import tokens

URI = "https://idp.acme.test/jwks"


class FakeHttp(IdpHttp):
    """Serves the JWKS documents it is given, in turn (the last one forever)."""

    def __init__(self, *documents: dict[str, Any] | Exception, cache_control: str = "") -> None:
        super().__init__()
        self.documents = list(documents)
        self.calls = 0
        self.cache_control = cache_control

    async def get_json(
        self, url: str, what: str, headers: dict[str, str] | None = None
    ) -> JsonResponse:
        self.calls += 1
        document = self.documents[min(self.calls, len(self.documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return JsonResponse(200, document, {"cache-control": self.cache_control})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_known_kid_is_served_from_the_cache() -> None:
    http = FakeHttp(tokens.key_set(tokens.rsa_key("k1")))
    cache = JwksCache(http, clock=Clock())
    for _ in range(5):
        await cache.key_for(URI, "k1", "RS256")
    assert http.calls == 1


async def test_a_rotated_key_is_found_by_one_refetch_without_a_restart() -> None:
    """The IdP starts signing with k2: the first token naming it refetches the set once."""
    clock = Clock()
    http = FakeHttp(
        tokens.key_set(tokens.rsa_key("k1")),
        tokens.key_set(tokens.rsa_key("k1"), tokens.rsa_key("k2")),
    )
    cache = JwksCache(http, min_refetch_seconds=60, clock=clock)
    await cache.key_for(URI, "k1", "RS256")
    clock.now += 61
    await cache.key_for(URI, "k2", "RS256")
    assert http.calls == 2


async def test_unknown_kids_trigger_at_most_one_refetch_per_interval() -> None:
    """A flood of forged kids must not turn us into a JWKS hammer: one refetch, then refusals
    until the interval has passed."""
    clock = Clock()
    http = FakeHttp(tokens.key_set(tokens.rsa_key("k1")))
    cache = JwksCache(http, min_refetch_seconds=60, clock=clock)
    await cache.key_for(URI, "k1", "RS256")
    clock.now += 61
    for forged in ("x1", "x2", "x3"):
        with pytest.raises(SigningKeyError) as caught:
            await cache.key_for(URI, forged, "RS256")
        assert caught.value.reason == "unknown_kid"
    assert http.calls == 2  # the first fetch and ONE refetch
    clock.now += 61
    with pytest.raises(SigningKeyError):
        await cache.key_for(URI, "x4", "RS256")
    assert http.calls == 3


async def test_a_key_of_the_wrong_type_for_the_algorithm_is_not_used() -> None:
    """An EC key never verifies an RS256 token, an RSA key never an ES256 one."""
    http = FakeHttp(tokens.key_set(tokens.ec_key("k1")))
    cache = JwksCache(http, min_refetch_seconds=0, clock=Clock())
    with pytest.raises(SigningKeyError):
        await cache.key_for(URI, "k1", "RS256")
    await cache.key_for(URI, "k1", "ES256")


async def test_a_token_without_kid_uses_the_only_fitting_key_and_no_guessing_among_several() -> (
    None
):
    clock = Clock()
    one = JwksCache(FakeHttp(tokens.key_set(tokens.rsa_key("k1"))), clock=clock)
    await one.key_for(URI, None, "RS256")
    two = JwksCache(
        FakeHttp(tokens.key_set(tokens.rsa_key("k1"), tokens.rsa_key("k2"))), clock=clock
    )
    with pytest.raises(SigningKeyError) as caught:
        await two.key_for(URI, None, "RS256")
    assert caught.value.reason == "kid_missing"


def test_symmetric_and_malformed_entries_are_never_keys() -> None:
    """RFC 8725 §3.2: a JWKS entry of kty oct could become an HMAC secret; it is skipped."""
    document = {
        "keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "junk",
            tokens.rsa_key("k1").public_jwk,
        ]
    }
    assert [key.kid for key in parse_key_set(document)] == ["k1"]
    with pytest.raises(SigningKeyError):
        parse_key_set({"nokeys": []})


async def test_an_unreachable_jwks_keeps_serving_the_keys_it_had() -> None:
    """A refetch that fails leaves the cached set in place (and counts for the rate limit)."""
    clock = Clock()
    http = FakeHttp(tokens.key_set(tokens.rsa_key("k1")), IdpHttpError("jwks_unreachable", "down"))
    cache = JwksCache(http, min_refetch_seconds=1, clock=clock)
    await cache.key_for(URI, "k1", "RS256")
    clock.now += 2
    with pytest.raises(SigningKeyError):
        await cache.key_for(URI, "k9", "RS256")
    await cache.key_for(URI, "k1", "RS256")


async def test_a_jwks_that_never_answered_refuses_with_its_reason() -> None:
    cache = JwksCache(FakeHttp(IdpHttpError("jwks_timeout", "slow")), clock=Clock())
    with pytest.raises(SigningKeyError) as caught:
        await cache.key_for(URI, "k1", "RS256")
    assert caught.value.reason == "jwks_unavailable"


def test_cache_control_max_age_is_honoured_within_bounds() -> None:
    assert max_age("public, max-age=7200") == 7200
    assert max_age("max-age=5") == 300
    assert max_age("max-age=999999") == 86400
    assert max_age("") == 3600
