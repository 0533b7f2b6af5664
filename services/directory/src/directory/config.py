"""The directory service's configuration, from the environment (meshkit.config).

The service only connects: ``idmesh migrate`` and ``make run`` apply its migrations.
"""

from __future__ import annotations

from dataclasses import dataclass

from directory.domains.dns import Nameserver
from meshkit.config import parse_bool, parse_duration, parse_port, setting
from meshkit.database import pool_bounds
from meshkit.secretbox import SecretBox, parse_key, parse_keys
from meshkit.workers import current


def parse_pool_size(raw: str) -> int:
    size = int(raw)
    if size < 1:
        raise ValueError("expected a positive number of connections")
    return size


def parse_nameservers(raw: str) -> tuple[Nameserver, ...]:
    """``host`` or ``host:port`` (``[v6]:port`` for an IPv6 address), comma-separated."""
    servers = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            if rest:
                port = rest.removeprefix(":")
        elif item.count(":") == 1:
            host, port = item.split(":")
        if not host:
            raise ValueError(f"no host in {item!r}")
        number = parse_port(port)
        if number == 0:
            raise ValueError(f"no port in {item!r}")
        servers.append(Nameserver(host, number))
    return tuple(servers)


def parse_positive_duration(raw: str) -> float:
    seconds = parse_duration(raw)
    if seconds <= 0:
        raise ValueError("expected a positive duration")
    return seconds


@dataclass(frozen=True)
class DirectoryConfig:
    host: str = setting("HOST", default="127.0.0.1", description="bind address")
    port: int = setting("PORT", default=50051, parse=parse_port, description="gRPC port")
    database_url: str = setting(
        "DATABASE_URL",
        secret=True,
        description="PostgreSQL URL; the service uses schema directory, already migrated",
    )
    # Per worker; unset: meshkit.database.pool_bounds (10 ÷ WORKERS, at least 2).
    db_pool_min: int | None = setting("DB_POOL_MIN", default=None, parse=parse_pool_size)
    db_pool_max: int | None = setting("DB_POOL_MAX", default=None, parse=parse_pool_size)
    dns_nameservers: tuple[Nameserver, ...] = setting(
        "DNS_NAMESERVERS",
        default=(),
        parse=parse_nameservers,
        description="nameservers for domain verification (host or host:port, comma-separated);"
        " empty is the system resolver",
    )
    domain_recheck_interval: float = setting(
        "DOMAIN_RECHECK_INTERVAL",
        default=24 * 3600.0,
        parse=parse_positive_duration,
        description="how often a verified domain's TXT record is checked again",
    )
    domain_grace_period: float = setting(
        "DOMAIN_GRACE_PERIOD",
        default=72 * 3600.0,
        parse=parse_duration,
        description="how long a verified domain may fail its checks before it returns to pending",
    )
    encryption_key: bytes = setting(
        "IDMESH_ENCRYPTION_KEY",
        parse=parse_key,
        secret=True,
        description="32 bytes in base64url: seals webhook signing secrets at rest (AES-256-GCM);"
        " the deliverer needs the same key",
    )
    previous_encryption_keys: tuple[bytes, ...] = setting(
        "IDMESH_ENCRYPTION_PREVIOUS_KEYS",
        default=(),
        parse=parse_keys,
        secret=True,
        description="comma-separated older keys, still used to decrypt during a rotation",
    )
    webhook_allow_private: bool = setting(
        "WEBHOOK_ALLOW_PRIVATE",
        default=False,
        parse=parse_bool,
        description="accept webhook URLs on loopback/private addresses and plain http (dev only)",
    )

    def __post_init__(self) -> None:
        pool_bounds(self.db_pool_min, self.db_pool_max, workers=1)  # DB_POOL_MIN ≤ DB_POOL_MAX

    def pool_bounds(self) -> tuple[int, int]:
        """(min, max) connections of this worker's pool."""
        return pool_bounds(self.db_pool_min, self.db_pool_max, current().count)

    def secretbox(self) -> SecretBox:
        return SecretBox(self.encryption_key, self.previous_encryption_keys)
