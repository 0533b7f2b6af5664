"""The auth service's configuration, from the environment (meshkit.config)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from auth.cache import MAX_TTL_SECONDS
from auth.sso.servicer import SsoSettings
from meshkit.config import parse_bool, parse_duration, parse_port, setting
from meshkit.database import pool_bounds
from meshkit.secretbox import SecretBox, parse_key, parse_keys
from meshkit.workers import current


def parse_pool_size(raw: str) -> int:
    size = int(raw)
    if size < 1:
        raise ValueError("expected a positive number of connections")
    return size


def parse_cache_ttl(raw: str) -> float:
    """A duration from 0 (no cache) to 5 s: the longest a revocation through another replica
    may take to be honoured here."""
    seconds = parse_duration(raw)
    if not 0 <= seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"expected a duration from 0 to {MAX_TTL_SECONDS:g}s")
    return seconds


@dataclass(frozen=True)
class AuthConfig:
    host: str = setting("HOST", default="127.0.0.1", description="bind address")
    port: int = setting("PORT", default=50052, parse=parse_port, description="gRPC port")
    database_url: str = setting(
        "DATABASE_URL", secret=True, description="PostgreSQL URL; the service uses schema auth"
    )
    # Per worker; unset: meshkit.database.pool_bounds (10 ÷ WORKERS, at least 2).
    db_pool_min: int | None = setting("DB_POOL_MIN", default=None, parse=parse_pool_size)
    db_pool_max: int | None = setting("DB_POOL_MAX", default=None, parse=parse_pool_size)
    api_token_cache_ttl: float = setting(
        "API_TOKEN_CACHE_TTL",
        default=MAX_TTL_SECONDS,
        parse=parse_cache_ttl,
        description="how long a verified API token is trusted without a database read",
    )
    migrate_on_start: bool = setting(
        "MIGRATE_ON_START",
        default=True,
        parse=parse_bool,
        description="apply pending migrations of schema auth at start-up (advisory-locked)",
    )

    directory_addr: str = setting(
        "DIRECTORY_ADDR", default="127.0.0.1:50051", description="directory gRPC address"
    )
    encryption_key: bytes | None = setting(
        "IDMESH_ENCRYPTION_KEY",
        default=None,
        parse=parse_key,
        secret=True,
        description="32 bytes in base64url: encrypts SSO client secrets at rest (AES-256-GCM)",
    )
    previous_encryption_keys: tuple[bytes, ...] = setting(
        "IDMESH_ENCRYPTION_PREVIOUS_KEYS",
        default=(),
        parse=parse_keys,
        secret=True,
        description="comma-separated older keys, still used to decrypt during a rotation",
    )
    signing_keys_file: str = setting(
        "IDMESH_SIGNING_KEYS_FILE",
        default="",
        description="a JWK set of private keys (ES256/RS256) signing access tokens; the first "
        "signs, all are published (auth.oauth.signing); unset: a key for this process only",
    )
    session_ttl: float = setting(
        "SESSION_TTL",
        default=8 * 3600.0,
        parse=parse_duration,
        description="absolute session lifetime, from the sign-in",
    )
    session_idle_ttl: float = setting(
        "SESSION_IDLE_TTL",
        default=3600.0,
        parse=parse_duration,
        description="a session unused this long ends (at most SESSION_TTL)",
    )
    expiry_check_every: float = setting(
        "EXPIRY_CHECK_EVERY",
        default=3600.0,
        parse=parse_duration,
        description="how often pinned SAML certificates and API tokens are checked for the "
        "change feed's expiry reminders (90, 30, 7 days ahead)",
    )
    login_transaction_ttl: float = setting(
        "LOGIN_TRANSACTION_TTL",
        default=600.0,
        parse=parse_duration,
        description="how long a started login may take",
    )
    jwks_min_refetch_interval: float = setting(
        "JWKS_MIN_REFETCH_INTERVAL",
        default=60.0,
        parse=parse_duration,
        description="at most one JWKS refetch per IdP per interval on an unknown key id",
    )
    idp_timeout: float = setting(
        "IDP_HTTP_TIMEOUT",
        default=5.0,
        parse=parse_duration,
        description="deadline of each call to an IdP (discovery, JWKS, token endpoint)",
    )

    def __post_init__(self) -> None:
        pool_bounds(self.db_pool_min, self.db_pool_max, workers=1)  # DB_POOL_MIN ≤ DB_POOL_MAX

    def pool_bounds(self) -> tuple[int, int]:
        """(min, max) connections of this worker's pool."""
        return pool_bounds(self.db_pool_min, self.db_pool_max, current().count)

    def sso_settings(self) -> SsoSettings:
        box = None
        if self.encryption_key is not None:
            box = SecretBox(self.encryption_key, self.previous_encryption_keys)
        return SsoSettings(
            secretbox=box,
            directory_addr=self.directory_addr,
            session_ttl=timedelta(seconds=self.session_ttl),
            session_idle_ttl=timedelta(seconds=min(self.session_idle_ttl, self.session_ttl)),
            transaction_ttl=timedelta(seconds=self.login_transaction_ttl),
            jwks_min_refetch_seconds=self.jwks_min_refetch_interval,
            idp_timeout_seconds=self.idp_timeout,
        )
