"""OAuth 2.0 client credentials at the gateway: the token endpoint (RFC 6749 §4.4), the public
JWK set of the access tokens (RFC 7517), and their local verification."""

from __future__ import annotations

from aiohttp import web

from gateway.oauth.keys import ACCESS_TOKEN_KEYS, AccessTokenKeys, jwks_handler
from gateway.oauth.limits import TOKEN_RATE_LIMIT, TokenEndpointLimits
from gateway.oauth.token import TOKEN_PATH, token_handler
from gateway.shared_ratelimit import Lease, SharedRateLimit

JWKS_PATH = "/.well-known/jwks.json"


def add_oauth_routes(
    app: web.Application,
    keys: AccessTokenKeys,
    *,
    lease: Lease,
    rate: float = 50.0,
    burst: int = 100,
) -> None:
    """``POST /oauth/token`` and ``GET /.well-known/jwks.json`` on ``app``, the token endpoint
    limited to ``rate`` requests a second (bursts of ``burst``) per client and per account
    (TOKEN_RATE_LIMIT and TOKEN_RATE_BURST), across replicas through the buckets ``lease``
    takes from."""
    app[ACCESS_TOKEN_KEYS] = keys
    app[TOKEN_RATE_LIMIT] = TokenEndpointLimits(
        SharedRateLimit("token-client", rate=rate, burst=burst, lease=lease),
        SharedRateLimit("token-account", rate=rate, burst=burst, lease=lease),
    )
    app.router.add_post(TOKEN_PATH, token_handler)
    app.router.add_get(JWKS_PATH, jwks_handler, allow_head=False)
