"""The keys that sign client-credentials access tokens, and the public JWK set that verifies them.

Where the keys come from (decided once, here): ``IDMESH_SIGNING_KEYS_FILE``, a JWK set (RFC 7517
§5) of private EC P-256 (ES256) or RSA (RS256) keys, which the Kubernetes manifests mount from a
Secret. The first key signs; every key in the file is published. Rotation is an edit of the
Secret: put the new key first, and the kubelet updates the file; this process notices within
``reload_interval`` seconds without a restart. A key that leaves the file stays published here
for one access-token lifetime more, so the tokens it signed keep verifying until they expire.

Why a file and not keys generated into the database: the key material then lives where the
other secrets live (the Secret store, its access control and audit), every replica signs with
the same key without coordinating, and the database never holds a signing key that a dump or a
replica would leak. Without the file (or with an empty set, as the dev overlay's placeholder
has) the service generates an ephemeral P-256 key at start and says so in the log: right for
one replica (``make run``, tests), wrong for several, whose tokens another replica's gateway
cache would not know. The workers of one replica (WORKERS) derive that key alike from their
supervisor's secret (meshkit.workers.shared_secret), so a token one signs, every one publishes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from meshkit.workers import shared_secret

logger = logging.getLogger(__name__)

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ALGORITHMS: Final = ("ES256", "RS256")
"""The only algorithms an access token is signed with (and the gateway accepts)."""


class SigningKeyError(ValueError):
    """The signing key file is unreadable or holds no usable private key."""


@dataclass(frozen=True)
class _SigningKey:
    key: ECKey | RSAKey
    kid: str
    alg: str

    def public(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "alg": self.alg, "use": "sig"}


def _algorithm(key: ECKey | RSAKey, declared: object) -> str:
    if isinstance(key, ECKey):
        if key.curve_name != "P-256" or declared not in (None, "ES256"):
            raise SigningKeyError("EC signing keys must be P-256 for ES256")
        return "ES256"
    if declared not in (None, "RS256"):
        raise SigningKeyError("RSA signing keys are used with RS256 only")
    return "RS256"


def parse_key_set(data: dict[str, Any]) -> list[_SigningKey]:
    """The private signing keys of JWK set ``data``, in file order; SigningKeyError for a key
    that is public only, of another type, or meant for another algorithm."""
    raw_keys = data.get("keys")
    if not isinstance(raw_keys, list):
        raise SigningKeyError('expected a JWK set: {"keys": [...]}')
    keys: list[_SigningKey] = []
    for raw in raw_keys:
        if not isinstance(raw, dict) or raw.get("kty") not in ("EC", "RSA"):
            raise SigningKeyError("each key must be an EC (P-256) or RSA JWK")
        key = KeySet.import_key_set({"keys": [raw]}).keys[0]
        if not isinstance(key, ECKey | RSAKey) or not key.is_private:
            raise SigningKeyError("each key must include its private part")
        keys.append(
            _SigningKey(
                key, str(raw.get("kid") or key.thumbprint()), _algorithm(key, raw.get("alg"))
            )
        )
    return keys


def generate_key() -> _SigningKey:
    """A fresh P-256 key, its kid the RFC 7638 thumbprint."""
    key = ECKey.generate_key("P-256", private=True)
    return _SigningKey(key, key.thumbprint(), "ES256")


def derive_key(seed: bytes) -> _SigningKey:
    """The P-256 key whose private scalar is ``seed`` (32 random bytes) reduced into [1, n-1]:
    the same key in every process that holds the seed."""
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    key = ECKey.import_key(ec.derive_private_key(scalar, ec.SECP256R1()))
    return _SigningKey(key, key.thumbprint(), "ES256")


def ephemeral_key() -> _SigningKey:
    """The key used when none is configured: this supervisor's workers' shared one, or a fresh
    one for a process that runs alone."""
    seed = shared_secret("idmesh oauth signing key")
    return generate_key() if seed is None else derive_key(seed)


class SigningKeys:
    """The active signing key, the published public set, and signing itself."""

    def __init__(
        self,
        path: Path | None,
        *,
        token_ttl_seconds: int,
        reload_interval: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._ttl = token_ttl_seconds
        self._reload_interval = reload_interval
        self._monotonic = monotonic
        self._mtime: float | None = None
        self._checked_at = monotonic()
        # kid -> (public JWK, monotonic time after which no token it signed is still valid)
        self._retired: dict[str, tuple[dict[str, Any], float]] = {}
        self._keys = self._load()

    @property
    def token_ttl_seconds(self) -> int:
        return self._ttl

    def _load(self) -> list[_SigningKey]:
        if self._path is not None:
            try:
                self._mtime = os.stat(self._path).st_mtime
                keys = parse_key_set(json.loads(self._path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as error:
                raise SigningKeyError(f"IDMESH_SIGNING_KEYS_FILE: {error}") from None
            if keys:
                return keys
        logger.warning(
            "no signing key configured (IDMESH_SIGNING_KEYS_FILE unset or an empty set): access "
            "tokens are signed with a key generated for this replica only"
        )
        return [ephemeral_key()]

    def _maybe_reload(self) -> None:
        if self._path is None:
            return
        now = self._monotonic()
        if now - self._checked_at < self._reload_interval:
            return
        self._checked_at = now
        try:
            mtime = os.stat(self._path).st_mtime
            if mtime == self._mtime:
                return
            fresh = self._load()
        except (OSError, SigningKeyError) as error:
            # Keep signing with the keys we have: a half-written Secret must not stop logins.
            logger.error("signing keys not reloaded, keeping the current ones: %s", error)
            return
        fresh_kids = {key.kid for key in fresh}
        for key in self._keys:
            if key.kid not in fresh_kids:
                self._retired[key.kid] = (key.public(), now + self._ttl)
        self._keys = fresh
        logger.info("signing keys reloaded; active key %s", fresh[0].kid)

    def public_jwks(self) -> dict[str, Any]:
        """RFC 7517 §5: every current key and every retired one whose tokens may still be live;
        public members only."""
        self._maybe_reload()
        now = self._monotonic()
        self._retired = {kid: v for kid, v in self._retired.items() if v[1] > now}
        current = [key.public() for key in self._keys]
        seen = {key["kid"] for key in current}
        retired = [jwk for kid, (jwk, _) in self._retired.items() if kid not in seen]
        return {"keys": current + retired}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` with the active key (RFC 9068 header typ at+jwt)."""
        self._maybe_reload()
        active = self._keys[0]
        header = {"alg": active.alg, "kid": active.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, active.key, algorithms=[active.alg])
