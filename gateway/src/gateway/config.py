"""The gateway's configuration, read from the environment (12-factor, meshkit.config)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from meshkit.config import load_config, parse_duration, parse_port, setting

MAX_REQUEST_BYTES = 1024 * 1024
"""The largest request body accepted (aiohttp client_max_size); SCIM advertises it as
ServiceProviderConfig bulk.maxPayloadSize."""


def parse_public_url(raw: str) -> str:
    """An absolute http(s) base URL without query or fragment; the trailing slash is dropped so
    paths can be appended as ``f"{public_url}/scim/v2"``."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an absolute http:// or https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("expected a base URL without credentials, query or fragment")
    return raw.strip().rstrip("/")


@dataclass(frozen=True)
class GatewayConfig:
    host: str = setting("HOST", default="127.0.0.1", description="address to listen on")
    port: int = setting("PORT", default=8080, parse=parse_port, description="HTTP port")
    directory_addr: str = setting(
        "DIRECTORY_ADDR", default="127.0.0.1:50051", description="directory gRPC address"
    )
    auth_addr: str = setting("AUTH_ADDR", default="127.0.0.1:50052", description="auth address")
    scim_addr: str = setting("SCIM_ADDR", default="127.0.0.1:50053", description="scim address")
    token_cache_ttl: float = setting(
        "TOKEN_CACHE_TTL",
        default=5.0,
        parse=parse_duration,
        description="how long a verified API token is reused without asking auth (0: never)",
    )
    public_url: str = setting(
        "PUBLIC_URL",
        default="",
        parse=parse_public_url,
        description="external base URL; default http://127.0.0.1:<PORT>",
    )


def load_gateway_config(environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """The configuration from ``environ`` (default os.environ); raises meshkit ConfigError listing
    every problem. PUBLIC_URL defaults to http://127.0.0.1:<PORT>."""
    config = load_config(GatewayConfig, environ)
    if not config.public_url:
        config = dataclasses.replace(config, public_url=f"http://127.0.0.1:{config.port}")
    return config
