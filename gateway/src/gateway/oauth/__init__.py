"""OAuth 2.0 client credentials at the gateway: the token endpoint (RFC 6749 §4.4), the public
JWK set of the access tokens (RFC 7517), and their local verification."""

from __future__ import annotations

from aiohttp import web

from gateway.oauth.keys import ACCESS_TOKEN_KEYS, AccessTokenKeys, jwks_handler
from gateway.oauth.ratelimit import TOKEN_RATE_LIMIT, RateLimiter
from gateway.oauth.token import TOKEN_PATH, token_handler

JWKS_PATH = "/.well-known/jwks.json"


def add_oauth_routes(app: web.Application, keys: AccessTokenKeys) -> None:
    """``POST /oauth/token`` and ``GET /.well-known/jwks.json`` on ``app``."""
    app[ACCESS_TOKEN_KEYS] = keys
    # Generous (>= 25 tokens a second per client): a client needs one token per 10 minutes.
    app[TOKEN_RATE_LIMIT] = RateLimiter(rate=50.0, burst=100.0)
    app.router.add_post(TOKEN_PATH, token_handler)
    app.router.add_get(JWKS_PATH, jwks_handler, allow_head=False)
