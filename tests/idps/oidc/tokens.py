"""Forging ID tokens for tests, with joserfc: keys, JWKS documents, signed tokens and the
malformed ones an attacker sends (alg none, HS256 keyed with the IdP's public key, tampered
signatures). Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from joserfc import jwk, jwt


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: jwk.RSAKey | jwk.ECKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as a JWKS publishes it."""
        data = dict(self.private.as_dict(private=False))
        data.update(kid=self.kid, alg=self.alg, use="sig")
        return data

    def public_pem(self) -> bytes:
        """The public key in PEM, the "secret" of the HS256 confusion attack."""
        return self.private.as_pem(private=False)


@cache
def rsa_key(kid: str = "k1") -> SigningKey:
    """An RSA-2048 key, made once per kid per test process (generation costs ~50 ms)."""
    return SigningKey(kid, "RS256", jwk.RSAKey.generate_key(2048, private=True))


@cache
def ec_key(kid: str = "e1") -> SigningKey:
    return SigningKey(kid, "ES256", jwk.ECKey.generate_key("P-256", private=True))


def key_set(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk for key in keys]}


def claims(
    issuer: str,
    client_id: str,
    nonce: str,
    /,
    *,
    subject: str = "alice",
    email_domain: str = "acme.test",
    now: float | None = None,
    lifetime: int = 300,
    **extra: Any,
) -> dict[str, Any]:
    """The claims of a good ID token; ``extra`` adds or overrides (None removes)."""
    issued = int(time.time() if now is None else now)
    body: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "iat": issued,
        "exp": issued + lifetime,
        "nonce": nonce,
        "email": f"{subject}@{email_domain}",
        "email_verified": True,
        "jti": uuid.uuid4().hex,
    }
    for name, value in extra.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def sign(
    body: dict[str, Any],
    key: SigningKey,
    *,
    alg: str | None = None,
    kid: str | None = "",
    header: dict[str, Any] | None = None,
) -> str:
    """A JWS signed with ``key`` (its kid unless ``kid`` says otherwise; None: no kid)."""
    protected: dict[str, Any] = {"alg": alg or key.alg}
    if kid is not None:
        protected["kid"] = kid or key.kid
    protected.update(header or {})
    return jwt.encode(protected, body, key.private, algorithms=[protected["alg"]])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segments(header: dict[str, Any], body: dict[str, Any]) -> str:
    return (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(body, separators=(",", ":")).encode())
    )


def with_header(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"sig") -> str:
    """A compact JWS with exactly ``header`` and a meaningless signature (for headers joserfc
    refuses to sign, such as crit)."""
    return _segments(header, body) + "." + _b64(signature)


def unsigned(body: dict[str, Any], kid: str = "k1") -> str:
    """``alg: none`` and an empty signature (CVE-2015-9235)."""
    return _segments({"alg": "none", "typ": "JWT", "kid": kid}, body) + "."


def hs256_with_public_key(body: dict[str, Any], key: SigningKey) -> str:
    """HS256 "signed" with the IdP's public key as the HMAC secret (RFC 8725 §2.1)."""
    signing_input = _segments({"alg": "HS256", "typ": "JWT", "kid": key.kid}, body)
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(mac)


def tamper(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(changes)
    return f"{header}.{_b64(json.dumps(body).encode())}.{signature}"
