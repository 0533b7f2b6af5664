"""The scim service's configuration, from the environment (meshkit.config)."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.config import parse_duration, parse_port, setting

# Account settings and roles change rarely and are read on every write: a short cache saves two
# directory calls per create without letting a changed setting linger.
MAX_ACCOUNT_CACHE_SECONDS = 60.0


def parse_cache_ttl(raw: str) -> float:
    seconds = parse_duration(raw)
    if not 0 <= seconds <= MAX_ACCOUNT_CACHE_SECONDS:
        raise ValueError(f"expected a duration from 0 to {MAX_ACCOUNT_CACHE_SECONDS:g}s")
    return seconds


def parse_timeout(raw: str) -> float:
    seconds = parse_duration(raw)
    if seconds <= 0:
        raise ValueError("expected a positive duration")
    return seconds


def parse_count(raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("expected an integer") from None
    if not low <= value <= high:
        raise ValueError(f"expected an integer from {low} to {high}")
    return value


@dataclass(frozen=True)
class ScimConfig:
    host: str = setting("HOST", default="127.0.0.1", description="bind address")
    port: int = setting("PORT", default=50053, parse=parse_port, description="gRPC port")
    directory_addr: str = setting(
        "DIRECTORY_ADDR",
        default="127.0.0.1:50051",
        description="the directory service (host:port or dns:///name:port)",
    )
    directory_timeout: float = setting(
        "DIRECTORY_TIMEOUT",
        default=5.0,
        parse=parse_timeout,
        description="deadline of each directory call",
    )
    account_cache_ttl: float = setting(
        "ACCOUNT_CACHE_TTL",
        default=5.0,
        parse=parse_cache_ttl,
        description="how long an account's provisioning settings and roles are reused",
    )
    provisioning_log_capacity: int = setting(
        "PROVISIONING_LOG_CAPACITY",
        default=10_000,
        parse=lambda raw: parse_count(raw, 100, 1_000_000),
        description="provisioning log events held for writing; beyond it new events are dropped "
        "(and counted) rather than slowing SCIM requests down",
    )
    provisioning_log_batch: int = setting(
        "PROVISIONING_LOG_BATCH",
        default=100,
        parse=lambda raw: parse_count(raw, 1, 1000),
        description="provisioning log events written to the directory in one call",
    )
    provisioning_log_interval: float = setting(
        "PROVISIONING_LOG_INTERVAL",
        default=0.2,
        parse=parse_timeout,
        description="the longest a provisioning log event waits for its batch to fill",
    )
