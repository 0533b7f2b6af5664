"""The directory service's configuration, from the environment (meshkit.config).

The service only connects: ``idmesh migrate`` and ``make run`` apply its migrations.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.config import ConfigError, parse_bool, parse_port, setting


def parse_pool_size(raw: str) -> int:
    size = int(raw)
    if size < 1:
        raise ValueError("expected a positive number of connections")
    return size


@dataclass(frozen=True)
class DirectoryConfig:
    host: str = setting("HOST", default="127.0.0.1", description="bind address")
    port: int = setting("PORT", default=50051, parse=parse_port, description="gRPC port")
    database_url: str = setting(
        "DATABASE_URL",
        secret=True,
        description="PostgreSQL URL; the service uses schema directory, already migrated",
    )
    db_pool_min: int = setting("DB_POOL_MIN", default=2, parse=parse_pool_size)
    db_pool_max: int = setting("DB_POOL_MAX", default=10, parse=parse_pool_size)
    webhook_allow_private: bool = setting(
        "WEBHOOK_ALLOW_PRIVATE",
        default=False,
        parse=parse_bool,
        description="accept webhook URLs on loopback/private addresses and plain http (dev only)",
    )

    def __post_init__(self) -> None:
        if self.db_pool_min > self.db_pool_max:
            raise ConfigError(["DB_POOL_MIN must not exceed DB_POOL_MAX"])
