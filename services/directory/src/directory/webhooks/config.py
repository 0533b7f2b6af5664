"""The deliverer's configuration, from the environment (meshkit.config)."""

from __future__ import annotations

from dataclasses import dataclass

from directory.config import parse_pool_size
from meshkit.config import parse_bool, parse_duration, parse_port, setting
from meshkit.secretbox import SecretBox, parse_key, parse_keys


@dataclass(frozen=True)
class DelivererConfig:
    host: str = setting("HOST", default="127.0.0.1", description="bind address (gRPC health)")
    port: int = setting("PORT", default=50054, parse=parse_port, description="gRPC health port")
    database_url: str = setting(
        "DATABASE_URL", secret=True, description="PostgreSQL URL; schema directory, migrated"
    )
    encryption_key: bytes = setting(
        "IDMESH_ENCRYPTION_KEY", parse=parse_key, secret=True,
        description="32 bytes in base64url: opens the webhook signing secrets directory sealed"
        " (directory's key)",
    )  # fmt: skip
    previous_encryption_keys: tuple[bytes, ...] = setting(
        "IDMESH_ENCRYPTION_PREVIOUS_KEYS", default=(), parse=parse_keys, secret=True,
        description="comma-separated older keys, still used to decrypt during a rotation",
    )  # fmt: skip
    workers: int = setting(
        "WEBHOOK_WORKERS", default=4, parse=parse_pool_size,
        description="deliveries in flight at once (each to another endpoint)",
    )  # fmt: skip
    allow_private: bool = setting(
        "WEBHOOK_ALLOW_PRIVATE", default=False, parse=parse_bool,
        description="deliver to loopback/private addresses and plain http (development only)",
    )  # fmt: skip
    timeout: float = setting(
        "WEBHOOK_TIMEOUT", default=15.0, parse=parse_duration, description="one delivery's limit"
    )
    retry_base: float = setting(
        "WEBHOOK_RETRY_BASE", default=5.0, parse=parse_duration,
        description="first retry delay; doubles per attempt, with jitter",
    )  # fmt: skip
    retry_max: float = setting(
        "WEBHOOK_RETRY_MAX", default=6 * 3600.0, parse=parse_duration,
        description="longest delay between two attempts",
    )  # fmt: skip
    disable_after: float = setting(
        "WEBHOOK_DISABLE_AFTER", default=3 * 86400.0, parse=parse_duration,
        description="an endpoint failing this long is disabled",
    )  # fmt: skip
    retention: float = setting(
        "EVENT_RETENTION", default=30 * 86400.0, parse=parse_duration,
        description="how long events and delivery logs are kept",
    )  # fmt: skip
    prune_every: float = setting("EVENT_PRUNE_EVERY", default=3600.0, parse=parse_duration)
    # One connection per worker in flight, the LISTEN connection and the pruner's.
    db_pool_max: int = setting("DB_POOL_MAX", default=6, parse=parse_pool_size)

    def secretbox(self) -> SecretBox:
        return SecretBox(self.encryption_key, self.previous_encryption_keys)
