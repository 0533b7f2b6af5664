"""gateway.ratelimit (the in-process token bucket of the gateway), the token endpoint's
per-client and per-account limits (gateway.oauth.limits) and their configuration. The issue's
requirement: "per-account rate limits on SCIM and the token endpoint answering 429 with
Retry-After (generous enough for Entra's bursts and at least 25 requests per second per
account)". Every test drives an injected clock: no sleeping, no timing to flake."""

from __future__ import annotations

import pytest

from gateway.admin.ratelimit import LoginLimits
from gateway.config import load_gateway_config
from gateway.oauth.limits import TokenEndpointLimits
from gateway.ratelimit import TokenBucket, retry_after
from meshkit.config import ConfigError


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def allowed(bucket: TokenBucket, key: str, requests: int) -> int:
    return sum(bucket.take(key) == 0 for _ in range(requests))


def test_a_full_bucket_allows_a_burst_then_asks_to_wait() -> None:
    """A token bucket: ``burst`` requests at once, then it answers the seconds to wait."""
    clock = Clock()
    bucket = TokenBucket(rate=50.0, burst=100, clock=clock)
    assert allowed(bucket, "c", 100) == 100
    wait = bucket.take("c")
    assert wait == pytest.approx(1 / 50)


def test_tokens_come_back_at_the_rate_up_to_the_burst() -> None:
    """``rate`` tokens a second refill the bucket, never beyond ``burst``."""
    clock = Clock()
    bucket = TokenBucket(rate=50.0, burst=100, clock=clock)
    allowed(bucket, "c", 100)
    clock.now = 1.0
    assert allowed(bucket, "c", 60) == 50
    clock.now = 1000.0
    assert allowed(bucket, "c", 150) == 100


def test_a_refused_request_spends_nothing_so_waiting_the_answer_is_enough() -> None:
    """A client that honours Retry-After gets through on its retry, however often it was
    refused meanwhile (RFC 9110 §10.2.3)."""
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock)
    assert bucket.take("c") == 0
    waits = [bucket.take("c") for _ in range(10)]
    assert all(wait == pytest.approx(0.5) for wait in waits)
    clock.now += waits[-1]
    assert bucket.take("c") == 0


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    """RFC 9110 §10.2.3: delay-seconds is a non-negative integer; rounding down would send the
    client back too early, and 0 would invite an immediate retry."""
    assert retry_after(0.02) == "1"
    assert retry_after(1.0) == "1"
    assert retry_after(1.01) == "2"
    assert retry_after(0) == "1"


def test_one_keys_burst_never_throttles_another_key() -> None:
    """Per key: one account's burst must not throttle another account (the issue)."""
    bucket = TokenBucket(rate=1.0, burst=5, clock=Clock())
    assert allowed(bucket, "noisy", 50) == 5
    assert allowed(bucket, "quiet", 5) == 5


def test_the_least_recently_used_keys_are_forgotten_beyond_the_bound() -> None:
    """Memory stays bounded however many keys are tried; the bucket forgotten is the one used
    longest ago, a busy key keeps its state."""
    bucket = TokenBucket(rate=1.0, burst=1, max_keys=3, clock=Clock())
    for key in "abc":
        bucket.take(key)
    bucket.take("a")  # refused, and now the most recently used
    bucket.take("d")  # evicts b
    assert len(bucket) == 3
    assert bucket.take("a") > 0  # still remembered: still empty
    assert bucket.take("b") == 0  # forgotten, so a fresh bucket


def test_a_bucket_refuses_nonsensical_settings() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0.0, burst=1)
    with pytest.raises(ValueError, match="burst >= 1"):
        TokenBucket(rate=1.0, burst=0)


def test_the_default_scim_limit_never_throttles_25_requests_a_second_per_account() -> None:
    """Entra gallery apps must take >= 25 req/s per tenant (docs/scim-clients.md §6): a
    minute of it, jittered into bunches of five, is never refused at the defaults."""
    config = load_gateway_config({})
    clock = Clock()
    bucket = TokenBucket(rate=config.scim_rate_limit, burst=config.scim_rate_burst, clock=clock)
    for step in range(60 * 5):
        clock.now = step * 0.2
        assert allowed(bucket, "account", 5) == 5


def test_the_default_scim_limit_absorbs_an_entra_burst_then_holds_the_rate() -> None:
    """A backlog of ``SCIM_RATE_BURST`` requests at once passes; a flood past it is refused
    with a short wait, and the sustained rate is what the configuration says."""
    config = load_gateway_config({})
    clock = Clock()
    bucket = TokenBucket(rate=config.scim_rate_limit, burst=config.scim_rate_burst, clock=clock)
    assert allowed(bucket, "account", config.scim_rate_burst) == config.scim_rate_burst
    assert retry_after(bucket.take("account")) == "1"
    clock.now = 10.0
    assert allowed(bucket, "account", 10_000) == config.scim_rate_burst
    assert config.scim_rate_limit >= 25


def test_the_default_scim_limit_takes_a_whole_conformance_tool_run_at_any_speed() -> None:
    """What one tenant's tools send (README, "Configuration"): scim2-tester 0.5.2 sends ~830
    requests from one token, scim-sanity fewer, as fast as the mesh answers. All of them at
    once pass; a sustained flood is held to the rate, below what one replica serves."""
    config = load_gateway_config({})
    clock = Clock()
    bucket = TokenBucket(rate=config.scim_rate_limit, burst=config.scim_rate_burst, clock=clock)
    assert allowed(bucket, "account", 830) == 830
    clock.now = 60.0
    assert allowed(bucket, "account", 100_000) == config.scim_rate_burst
    assert 25 * 4 <= config.scim_rate_limit < 317


def test_limits_are_configured_from_the_environment() -> None:
    config = load_gateway_config(
        {
            "SCIM_RATE_LIMIT": "2.5",
            "SCIM_RATE_BURST": "7",
            "TOKEN_RATE_LIMIT": "3",
            "TOKEN_RATE_BURST": "4",
            "MAX_IN_FLIGHT_REQUESTS": "9",
            "REQUEST_TIMEOUT": "1500ms",
        }
    )
    assert (config.scim_rate_limit, config.scim_rate_burst) == (2.5, 7)
    assert (config.token_rate_limit, config.token_rate_burst) == (3.0, 4)
    assert (config.max_in_flight, config.request_timeout) == (9, 1.5)


def test_every_invalid_limit_is_reported_at_once() -> None:
    """meshkit.config convention: an operator fixes them all in one go."""
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(
            {
                "SCIM_RATE_LIMIT": "0",
                "SCIM_RATE_BURST": "-1",
                "TOKEN_RATE_LIMIT": "nan",
                "TOKEN_RATE_BURST": "lots",
                "MAX_IN_FLIGHT_REQUESTS": "0",
                "REQUEST_TIMEOUT": "0s",
            }
        )
    assert [problem.split(" ")[0] for problem in caught.value.problems] == [
        "SCIM_RATE_LIMIT",
        "SCIM_RATE_BURST",
        "TOKEN_RATE_LIMIT",
        "TOKEN_RATE_BURST",
        "MAX_IN_FLIGHT_REQUESTS",
        "REQUEST_TIMEOUT",
    ]


async def test_the_token_endpoint_limits_each_client_id() -> None:
    """A client id unknown to the gateway is limited by itself; other clients go on."""
    limits = TokenEndpointLimits.in_process(rate=1.0, burst=3, clock=Clock())
    assert [await limits.take("c1") for _ in range(3)] == [None, None, None]
    throttled = await limits.take("c1")
    assert throttled is not None
    assert throttled.scope == "client"
    assert await limits.take("c2") is None


async def test_the_token_endpoint_limits_all_clients_of_an_account_together() -> None:
    """Per account (the issue): once a client has been issued a token the gateway knows its
    account, and the account's clients share the account's bucket; the first token of each
    client is charged to the account when it is issued."""
    limits = TokenEndpointLimits.in_process(rate=1.0, burst=4, clock=Clock())
    for client in ("c1", "c2"):
        assert await limits.take(client) is None
        await limits.issued(client, "acme")
    assert await limits.take("c1") is None
    assert await limits.take("c2") is None
    throttled = await limits.take("c1")
    assert throttled is not None
    assert throttled.scope == "account"
    assert await limits.take("c3") is None  # another account's client


async def test_the_token_endpoint_remembers_a_bounded_number_of_clients() -> None:
    limits = TokenEndpointLimits.in_process(rate=1.0, burst=100, max_keys=2, clock=Clock())
    for client in ("c1", "c2", "c3"):
        await limits.issued(client, f"account-of-{client}")
    assert len(limits._accounts) == 2
    assert "c1" not in limits._accounts


def test_the_admin_sign_in_allows_five_tries_a_minute_per_identity() -> None:
    """OWASP Authentication Cheat Sheet: automated guessing is slowed per identity, while
    another identity from the same address still signs in."""
    clock = Clock()
    limits = LoginLimits(
        per_identity=TokenBucket.per_period(5, 60.0, clock=clock),
        per_address=TokenBucket.per_period(30, 60.0, clock=clock),
    )
    assert [limits.take("acme", "Root@acme.example", "10.0.0.1") for _ in range(5)] == [0.0] * 5
    assert limits.take("ACME", "root@acme.example", "10.0.0.1") == pytest.approx(12.0)
    assert limits.take("acme", "other@acme.example", "10.0.0.1") == 0
    clock.now = 12.5
    assert limits.take("acme", "root@acme.example", "10.0.0.1") == 0
