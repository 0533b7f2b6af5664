"""Bearer-token authentication of API callers (RFC 6750): API tokens verified by the auth
service, and client-credentials access tokens (JWTs signed by auth) verified here against
auth's public keys (gateway.oauth.keys).

The secret is sent to auth and nowhere else: it is never logged, put in a span or echoed in an
error. A malformed credential is refused here without a call, so garbage never reaches auth.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import grpc
from aiohttp import web
from opentelemetry import trace

from gateway.clients import Clients
from gateway.errors import BEARER_CHALLENGE, HttpServiceError
from gateway.oauth.keys import ACCESS_TOKEN_KEYS, InvalidAccessToken
from gateway.token_cache import TokenCache
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import PermissionDenied, Unauthenticated

# RFC 6750 §2.1: "Bearer" 1*SP b64token, the scheme case-insensitive (RFC 9110 §11.1).
_BEARER = re.compile(r"bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
# API token secrets are ~80 characters, access tokens (JWTs) well under 2 KiB; anything much
# longer is not one of ours.
MAX_SECRET_CHARS = 4096


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's account, the token (an API token id, or the OAuth client id
    of an access token) and what it may do."""

    account_id: str
    token_id: str
    permissions: frozenset[str]


VERIFIED_TOKENS: web.AppKey[TokenCache[Principal]] = web.AppKey("verified_tokens", TokenCache)
"""Recently verified API tokens (gateway.token_cache)."""


def has_permission(granted: Collection[str], required: str) -> bool:
    """Whether ``granted`` includes ``required``; ``<resource>:manage`` implies
    ``<resource>:read`` (a SCIM client that may change users may also look them up)."""
    if required in granted:
        return True
    resource, _, action = required.rpartition(":")
    return action == "read" and f"{resource}:manage" in granted


def _missing() -> HttpServiceError:
    # RFC 6750 §3.1: no credentials at all, so no error code in the challenge.
    return HttpServiceError(
        Unauthenticated(
            "Authentication required: send Authorization: Bearer <API token>.",
            reason="missing_token",
        ),
        {"WWW-Authenticate": BEARER_CHALLENGE},
    )


def _invalid() -> HttpServiceError:
    # One message for unknown, malformed, revoked and expired tokens: no oracle for guessing.
    return HttpServiceError(
        Unauthenticated("The bearer token is invalid, expired or revoked.", reason="invalid_token"),
        {"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'},
    )


def bearer_secret(header: str | None) -> str:
    """The secret of an ``Authorization: Bearer`` header; raises 401 errors when it is missing
    (or another scheme) or malformed."""
    if not header or not header.lower().startswith("bearer"):
        raise _missing()
    match = _BEARER.fullmatch(header)
    if match is None or len(match.group(1)) > MAX_SECRET_CHARS:
        raise _invalid()
    return match.group(1)


async def _verify(clients: Clients, secret: str) -> Principal:
    try:
        verified = await clients.auth.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=secret))
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
            raise _invalid() from None
        raise
    return Principal(verified.account_id, verified.token_id, frozenset(verified.permissions))


async def authenticate(request: web.Request, clients: Clients, permission: str | None) -> Principal:
    """The caller of ``request``: an API token verified by auth.VerifyApiToken (or reused from
    a verification less than TOKEN_CACHE_TTL old: gateway.token_cache), or an access token
    verified locally (gateway.oauth.keys).

    Raises (rendered by the error middleware): 401 with ``WWW-Authenticate: Bearer
    realm="idmesh"`` when the header is missing, and with ``error="invalid_token"`` added when
    the token is malformed, unknown, revoked or expired; 403 when ``permission`` is given and not
    granted. An unreachable auth service is 503, never a 401."""
    secret = bearer_secret(request.headers.get("Authorization"))
    if secret.count(".") == 2:
        # A JWS compact serialisation: an access token of the client-credentials grant. Not
        # cached: verifying costs less than a cache entry's bookkeeping, and exp stays exact.
        try:
            claims = await request.config_dict[ACCESS_TOKEN_KEYS].verify(secret)
        except InvalidAccessToken:
            raise _invalid() from None
        principal = Principal(claims.account_id, claims.client_id, claims.scopes)
    else:
        cache = request.config_dict[VERIFIED_TOKENS]
        cached = cache.get(secret)
        if cached is None:
            cached = await _verify(clients, secret)
            cache.put(secret, cached)
        principal = cached
    span = trace.get_current_span()
    if span.is_recording():
        # Ids only: which tenant and token made the call, never the secret.
        span.set_attribute("idmesh.account.id", principal.account_id)
        span.set_attribute("idmesh.token.id", principal.token_id)
    if permission is not None and not has_permission(principal.permissions, permission):
        raise PermissionDenied(
            f"The token lacks the permission {permission!r}.", reason="insufficient_scope"
        )
    return principal
