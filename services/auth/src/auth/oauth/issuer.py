"""The client-credentials grant's decisions (RFC 6749 §4.4): authenticate the client, narrow
its permissions to the requested scope (§3.3), and sign a short-lived JWT access token
(RFC 9068 profile: typ at+jwt, iss, aud, sub and client_id, exp, iat, jti, scope).

Every authentication failure, whether malformed id or secret, unknown client, wrong secret or
revoked client, raises one Unauthenticated error after the same constant-time comparison, so
the answer says nothing about which it was.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from auth.oauth import secrets
from auth.oauth.signing import SigningKeys
from auth.oauth.store import ClientCredentials, OAuthClientStore
from auth.permissions import KNOWN_PERMISSIONS
from meshkit.errors import InvalidArgument, Unauthenticated

INVALID_CLIENT: Final = "client authentication failed"
_NO_HASH: Final = hashlib.sha256(b"no such client").digest()
_MAX_URI: Final = 2048


def grantable(permissions: Iterable[str], scope: str) -> bool:
    """Whether a client holding ``permissions`` may ask for ``scope`` (``x:manage`` includes
    ``x:read``, as the gateway's checks do)."""
    held = set(permissions)
    if scope in held:
        return True
    resource, _, action = scope.rpartition(":")
    return action == "read" and f"{resource}:manage" in held


def narrow_scopes(permissions: tuple[str, ...], requested: Iterable[str]) -> tuple[str, ...]:
    """The token's permissions: all the client's when nothing is requested, else exactly the
    requested ones; InvalidArgument(reason="invalid_scope") for one the client does not hold."""
    wanted = sorted(set(requested))
    if not wanted:
        return permissions
    refused = [s for s in wanted if s not in KNOWN_PERMISSIONS or not grantable(permissions, s)]
    if refused:
        shown = ", ".join(repr(s[:64]) for s in refused[:5])
        raise InvalidArgument(
            f"scope {shown} is not granted to this client", field="scope", reason="invalid_scope"
        )
    return tuple(wanted)


def _uri(value: str, field: str) -> str:
    if not value or len(value) > _MAX_URI:
        raise InvalidArgument("required, at most 2048 characters", field=field)
    return value


class AccessTokenIssuer:
    """Authenticates OAuth clients and signs their access tokens."""

    def __init__(self, store: OAuthClientStore, keys: SigningKeys) -> None:
        self._store = store
        self.keys = keys

    async def authenticate(self, client_id: str, client_secret: str) -> ClientCredentials:
        """The live client ``client_id`` whose secret is ``client_secret``; Unauthenticated
        otherwise (one message for every reason)."""
        client_uuid = secrets.parse_client_id(client_id)
        credentials = None
        if client_uuid is not None and secrets.well_formed_secret(client_secret):
            credentials = await self._store.credentials(client_uuid)
        stored = _NO_HASH if credentials is None else credentials.secret_hash
        matches = secrets.secret_matches(client_secret, stored)
        if credentials is None or not matches or credentials.revoke_time is not None:
            raise Unauthenticated(INVALID_CLIENT, reason="invalid_client")
        return credentials

    def sign(
        self,
        client: ClientCredentials,
        scopes: tuple[str, ...],
        *,
        issuer: str,
        audience: str,
        now: datetime,
    ) -> str:
        """The signed access token of ``client`` with ``scopes``, valid from ``now`` for the
        keys' token lifetime."""
        issued_at = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": _uri(issuer, "issuer"),
            "aud": _uri(audience, "audience"),
            "sub": secrets.format_client_id(client.id),
            "client_id": secrets.format_client_id(client.id),
            "account_id": str(client.account_id),
            "scope": " ".join(scopes),
            "iat": issued_at,
            "exp": issued_at + self.keys.token_ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return self.keys.sign(claims)

    async def touch(self, client_id: uuid.UUID) -> None:
        await self._store.touch(client_id)
