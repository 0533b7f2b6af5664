"""The gateway's configuration, read from the environment (12-factor, meshkit.config)."""

from __future__ import annotations

import dataclasses
import math
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


def parse_rate(raw: str) -> float:
    """Requests a second: a positive number (``0.5`` is one every two seconds)."""
    rate = float(raw)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError("expected a positive number of requests a second")
    return rate


def parse_fraction(raw: str) -> float:
    """A fraction from 0 to 1 (``0.05`` is one in twenty)."""
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a number from 0 to 1")
    return value


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def parse_positive_duration(raw: str) -> float:
    seconds = parse_duration(raw)
    if seconds <= 0:
        raise ValueError("expected a duration above zero")
    return seconds


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
    # Per account, one total across gateway replicas (gateway.shared_ratelimit); chosen from
    # what one tenant's tools send (README, "Configuration"): the burst holds a whole run of the
    # largest public SCIM test tool (scim2-tester: ~830 requests from one token, 160 in its
    # busiest second) at any speed, and the rate is 8x Entra's 25/s gallery floor yet about half
    # of what one 2-core replica serves (317 creates/s in the benchmark), so one tenant alone
    # cannot saturate a replica.
    scim_rate_limit: float = setting(
        "SCIM_RATE_LIMIT",
        default=200.0,
        parse=parse_rate,
        description="SCIM requests a second per account",
    )
    scim_rate_burst: int = setting(
        "SCIM_RATE_BURST",
        default=1000,
        parse=parse_positive_int,
        description="SCIM requests per account allowed at once above the rate",
    )
    # A client needs one access token per 10 minutes: these stop a runaway loop, nothing else.
    token_rate_limit: float = setting(
        "TOKEN_RATE_LIMIT",
        default=50.0,
        parse=parse_rate,
        description="token endpoint requests a second per OAuth client and per account",
    )
    token_rate_burst: int = setting(
        "TOKEN_RATE_BURST",
        default=100,
        parse=parse_positive_int,
        description="token endpoint requests per client and per account allowed at once",
    )
    # Eight times the 16 requests at once that saturate a gateway in the benchmark (README,
    # Performance), and bounded memory: each may hold a 1 MiB body and its protobuf copy, so
    # 128 stay within the 384 MiB the Kubernetes Deployment gives a gateway.
    max_in_flight: int = setting(
        "MAX_IN_FLIGHT_REQUESTS",
        default=128,
        parse=parse_positive_int,
        description="requests handled at once; more are answered 503 at once",
    )
    # Above the longest deadline a handler gives one of its calls (20 s: auth finishing an SSO
    # login, which waits on the IdP), so it only ever cuts off a request that is stuck.
    request_timeout: float = setting(
        "REQUEST_TIMEOUT",
        default=30.0,
        parse=parse_positive_duration,
        description="the longest a request may take before it is answered 504",
    )

    # Errors and slow requests are always logged; a line per success cost a tenth of the
    # gateway's CPU per request, and the traces and error lines tell what it would.
    access_log_sample: float = setting(
        "ACCESS_LOG_SAMPLE",
        default=0.05,
        parse=parse_fraction,
        description="share of successful requests written to the access log (errors: all)",
    )


def load_gateway_config(environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """The configuration from ``environ`` (default os.environ); raises meshkit ConfigError listing
    every problem. PUBLIC_URL defaults to http://127.0.0.1:<PORT>."""
    config = load_config(GatewayConfig, environ)
    if not config.public_url:
        config = dataclasses.replace(config, public_url=f"http://127.0.0.1:{config.port}")
    return config
