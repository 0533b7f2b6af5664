"""The IdPs' signing keys (JWKS), cached per jwks_uri, with key rotation that needs no restart.

A token whose ``kid`` the cached set lacks triggers ONE refetch of the set, at most once per
``min_refetch_seconds`` per jwks_uri (RFC 8725 and the checklist: a flood of forged kids must not
turn us into a JWKS hammer). If the key is still unknown, the token is refused. Keys come only
from the connection's discovered ``jwks_uri``: a token's own ``jku``, ``x5u``, ``jwk`` or ``x5c``
header is never fetched or trusted. Only asymmetric keys (RSA, EC) are accepted from a set, so a
published key can never become an HMAC secret.

The set's lifetime honours Cache-Control max-age, bounded to [5 min, 24 h]; 1 h by default.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from joserfc import jwk
from joserfc.errors import JoseError

from auth.sso.http import IdpHttp, IdpHttpError

DEFAULT_TTL_SECONDS: Final = 3600.0
MIN_TTL_SECONDS: Final = 300.0
MAX_TTL_SECONDS: Final = 86400.0
_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
_CURVES: Final = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


class SigningKeyError(Exception):
    """No usable key; ``reason`` goes to the login trace (unknown_kid, jwks_unavailable, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PublicKey:
    kid: str
    kty: str
    crv: str
    alg: str
    use: str
    key: jwk.Key = field(repr=False)

    def fits(self, alg: str) -> bool:
        """Whether this key may verify a signature made with ``alg``."""
        if self.use not in ("", "sig") or (self.alg and self.alg != alg):
            return False
        if alg.startswith(("RS", "PS")):
            return self.kty == "RSA"
        if alg in _CURVES:
            return self.kty == "EC" and self.crv == _CURVES[alg]
        return False


def parse_key_set(document: dict[str, Any]) -> tuple[PublicKey, ...]:
    """The asymmetric public keys of a JWKS document; other entries are skipped (pure)."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise SigningKeyError("jwks_invalid", "the JWKS has no keys array")
    parsed = []
    for entry in keys:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            # Public members only: a private "d" published by mistake is not ours to hold.
            public = {k: v for k, v in entry.items() if k in ("kty", "n", "e", "crv", "x", "y")}
            key = jwk.import_key(public)
        except (JoseError, ValueError, TypeError):
            continue
        parsed.append(
            PublicKey(
                kid=str(entry.get("kid", "")),
                kty=entry["kty"],
                crv=str(entry.get("crv", "")),
                alg=str(entry.get("alg", "")),
                use=str(entry.get("use", "")),
                key=key,
            )
        )
    return tuple(parsed)


def max_age(cache_control: str) -> float:
    match = _MAX_AGE.search(cache_control or "")
    if match is None:
        return DEFAULT_TTL_SECONDS
    return min(max(float(match.group(1)), MIN_TTL_SECONDS), MAX_TTL_SECONDS)


@dataclass
class _Set:
    fetched_at: float
    ttl: float
    keys: tuple[PublicKey, ...]


class JwksCache:
    def __init__(
        self,
        http: IdpHttp,
        *,
        min_refetch_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._sets: dict[str, _Set] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def key_for(self, jwks_uri: str, kid: str | None, alg: str) -> jwk.Key:
        """The key that must have signed a token with header ``kid`` and ``alg``."""
        current = self._sets.get(jwks_uri)
        if current is None or self._clock() - current.fetched_at >= current.ttl:
            current = await self._refresh(jwks_uri, stale=current)
        found = _select(current.keys, kid, alg)
        if found is not None:
            return found
        # Unknown kid: the IdP may have rotated. One refetch, rate-limited per jwks_uri.
        if self._clock() - current.fetched_at >= self._min_refetch:
            current = await self._refresh(jwks_uri, stale=current)
            found = _select(current.keys, kid, alg)
            if found is not None:
                return found
        if kid is None:
            raise SigningKeyError(
                "kid_missing", "the token names no key and the JWKS has several that fit"
            )
        raise SigningKeyError("unknown_kid", "the token's key id is not in the IdP's JWKS")

    async def _refresh(self, jwks_uri: str, stale: _Set | None) -> _Set:
        lock = self._locks.setdefault(jwks_uri, asyncio.Lock())
        async with lock:
            current = self._sets.get(jwks_uri)
            if current is not None and current is not stale:
                return current  # another login refreshed it while we waited
            self.fetches += 1
            try:
                response = await self._http.get_json(jwks_uri, "jwks")
            except IdpHttpError as error:
                if stale is not None:
                    # Keep serving the old keys; record the attempt so the rate limit holds.
                    stale.fetched_at = self._clock()
                    return stale
                raise SigningKeyError("jwks_unavailable", str(error)) from None
            if response.status != 200:
                if stale is not None:
                    stale.fetched_at = self._clock()
                    return stale
                raise SigningKeyError(
                    "jwks_unavailable", f"the JWKS endpoint answered {response.status}"
                )
            keys = parse_key_set(response.body)
            fresh = _Set(self._clock(), max_age(response.headers.get("cache-control", "")), keys)
            self._sets[jwks_uri] = fresh
            return fresh


def _select(keys: tuple[PublicKey, ...], kid: str | None, alg: str) -> jwk.Key | None:
    if kid is not None:
        for key in keys:
            if key.kid == kid and key.fits(alg):
                return key.key
        return None
    fitting = [key for key in keys if key.fits(alg)]
    return fitting[0].key if len(fitting) == 1 else None
