"""ID token validation (OIDC Core §3.1.3.7 and docs/sso-security.md §3), with joserfc.

The order matters and each step has its own refusal reason for the login trace:

1. The header, unverified: a JWS in compact form (a JWE or JSON serialization is refused), its
   ``alg`` in the connection's allow-list. ``none`` and every HMAC algorithm are refused before
   any key is touched (RFC 8725 §3.1-3.2: "HS256 keyed with the IdP's public key" never gets a
   chance). ``crit`` is refused (we implement no extension). ``jku``/``x5u``/``jwk``/``x5c`` are
   ignored: keys come from the discovered jwks_uri only.
2. The key: by ``kid`` from the IdP's JWKS (auth.sso.oidc.jwks: one rate-limited refetch).
3. The signature: ``joserfc.jwt.decode`` with that one key and that one algorithm.
4. The claims, only once signed: ``iss`` exact (an Entra ``{tenantid}`` template is filled with
   the token's ``tid``, which must be allowed), ``aud`` contains our client id, ``azp`` equals it
   when present and is required with several audiences, ``exp`` (60 s leeway), ``iat`` neither in
   the future nor stale, ``nbf``, ``sub`` present, ``nonce`` equal to the transaction's (compared
   in constant time).

Pure apart from the key lookup the caller passes in; the clock is a parameter. It runs on the
event loop on purpose: an RS256/ES256 verification costs about 40-60 µs (about 1 % of auth's CPU
per login under load, measured with py-spy), less than a hop to a worker thread would.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jwk, jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)

from auth.sso.oidc import presets

LEEWAY_SECONDS: Final = 60
# An ID token comes straight from the token endpoint: one issued long ago is a replay or a
# badly wrong clock, which the trace's clock delta then shows.
MAX_AGE_SECONDS: Final = 600
MAX_TOKEN_CHARS: Final = 64 * 1024

KeyLookup = Callable[[str | None, str], Awaitable[jwk.Key]]


class IdTokenError(Exception):
    """A refused ID token. ``reason`` is the login trace's machine word; ``claims`` are the
    verified claims when the refusal came after the signature check (else None)."""

    def __init__(
        self,
        reason: str,
        message: str,
        claims: dict[str, Any] | None = None,
        clock_delta: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.claims = claims
        self.clock_delta = clock_delta


@dataclass(frozen=True)
class Expectations:
    """What the token must say, from the connection and the login transaction."""

    issuer: str
    client_id: str
    nonce: str
    algorithms: tuple[str, ...]
    allowed_tenant_ids: tuple[str, ...] = ()
    leeway: int = LEEWAY_SECONDS
    max_age: int = MAX_AGE_SECONDS


@dataclass(frozen=True)
class ValidToken:
    claims: dict[str, Any]
    header: dict[str, Any]
    # Our clock minus iat, in seconds.
    clock_delta: float


def read_header(token: str, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """Step 1: the unverified header, refused unless its algorithm is allowed."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise IdTokenError("id_token_malformed", "the ID token is missing or too large")
    if token.count(".") != 2:
        raise IdTokenError(
            "id_token_malformed", "the ID token is not a JWS in compact serialization"
        )
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError, json.JSONDecodeError):
        raise IdTokenError("id_token_malformed", "the ID token's header cannot be read") from None
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise IdTokenError("alg_missing", "the ID token names no algorithm")
    if alg not in algorithms or alg not in presets.ALLOWED_SIGNING_ALGORITHMS:
        raise IdTokenError(
            "alg_not_allowed", f"the ID token's algorithm {alg[:20]!r} is not allowed"
        )
    if "crit" in header:
        raise IdTokenError("crit_unsupported", "the ID token has critical header extensions")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdTokenError("id_token_malformed", "the ID token's kid is not a string")
    return dict(header)


def verify_signature(token: str, key: jwk.Key, alg: str) -> dict[str, Any]:
    """Step 3: the claims, once the signature verifies with ``key`` and ``alg`` alone."""
    try:
        decoded = jwt.decode(token, key, algorithms=[alg])
    except BadSignatureError:
        raise IdTokenError(
            "invalid_signature", "the ID token's signature does not verify"
        ) from None
    except (JoseError, ValueError, TypeError):
        raise IdTokenError(
            "invalid_signature", "the ID token cannot be verified with the IdP's key"
        ) from None
    return dict(decoded.claims)


def expected_issuer(expect: Expectations, claims: dict[str, Any]) -> str:
    """The exact issuer this token must carry: the connection's, or for an Entra template the
    template filled with the token's ``tid``, which must be allowed."""
    if presets.ENTRA_TENANT_TEMPLATE not in expect.issuer:
        return expect.issuer
    tenant = claims.get("tid")
    if not isinstance(tenant, str) or not tenant:
        raise IdTokenError("tid_missing", "the ID token has no tenant id (tid)")
    if tenant not in expect.allowed_tenant_ids:
        raise IdTokenError("tenant_not_allowed", "the ID token's tenant is not allowed")
    return expect.issuer.replace(presets.ENTRA_TENANT_TEMPLATE, tenant)


def check_claims(claims: dict[str, Any], expect: Expectations, now: float) -> float:
    """Step 4 (pure): raises IdTokenError with the first failing check; returns the clock
    delta (``now - iat``)."""
    iat = claims.get("iat")
    delta = now - iat if isinstance(iat, int | float) and not isinstance(iat, bool) else None

    def fail(reason: str, message: str) -> IdTokenError:
        return IdTokenError(reason, message, claims, delta)

    try:
        issuer = expected_issuer(expect, claims)
    except IdTokenError as error:
        raise fail(error.reason, str(error)) from None
    if claims.get("iss") != issuer:
        raise fail("iss_mismatch", "the ID token's issuer is not the connection's")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or expect.client_id not in audiences:
        raise fail("aud_mismatch", "the ID token is not meant for our client id")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expect.client_id:
        raise fail("azp_mismatch", "the ID token's authorized party is not our client id")
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=expect.leeway,
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise fail("expired", "the ID token has expired") from None
    except MissingClaimError as error:
        raise fail(f"{error.claim.split(',')[0]}_missing", "the ID token lacks a claim") from None
    except ClaimError as error:
        raise fail(f"{error.claim}_invalid", f"the ID token's {error.claim} is invalid") from None
    assert delta is not None  # iat is essential and numeric once validated
    if delta > expect.max_age + expect.leeway:
        raise fail("iat_too_old", "the ID token was issued too long ago")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), expect.nonce.encode()):
        raise fail("nonce_mismatch", "the ID token's nonce is not this login's")
    return delta


async def validate_id_token(
    token: str, expect: Expectations, key_for: KeyLookup, now: float
) -> ValidToken:
    """Steps 1 to 4. ``key_for(kid, alg)`` raises with its own reason when no key fits."""
    header = read_header(token, expect.algorithms)
    alg: str = header["alg"]
    key = await key_for(header.get("kid"), alg)
    claims = verify_signature(token, key, alg)
    delta = check_claims(claims, expect, now)
    return ValidToken(claims=claims, header=header, clock_delta=delta)
