"""Back-channel logout token validation (OpenID Connect Back-Channel Logout 1.0 §2.6), with the
ID token's header and signature checks (idtoken.py) and its own claim rules:

1. the header: a JWS in compact form, ``alg`` in the connection's allow-list (never ``none`` or
   HMAC), no ``crit``; the key by ``kid`` from the IdP's JWKS; the signature;
2. ``iss`` exactly the connection's issuer (an Entra template filled with an allowed ``tid``),
   ``aud`` containing our client id;
3. ``iat`` present, not in the future (60 s leeway) nor older than the window; ``exp`` when
   present not passed;
4. ``jti`` present (§2.4: REQUIRED): the caller claims it in the shared replay cache;
5. ``events`` a JSON object with the member ``http://schemas.openid.net/event/backchannel-logout``
   (whose value is an object): what keeps an ID token from being replayed as a logout token;
6. ``sid`` or ``sub`` (or both) present;
7. no ``nonce`` (§2.4: "A nonce Claim MUST NOT be present").

Pure apart from the key lookup the caller passes in; the clock is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from auth.sso.oidc.idtoken import (
    Expectations,
    IdTokenError,
    KeyLookup,
    expected_issuer,
    read_header,
    verify_signature,
)

BACKCHANNEL_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY_SECONDS: Final = 60
# A logout token is posted the moment the IdP's session ends; an old one is a replay.
MAX_AGE_SECONDS: Final = 300


class LogoutTokenError(Exception):
    """A refused logout token: ``reason`` is the trace's word."""

    def __init__(self, reason: str, message: str, claims: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.claims = claims


@dataclass(frozen=True)
class LogoutOrder:
    """What a valid logout token asks: end the sessions of ``sid`` and/or ``sub``."""

    sid: str
    sub: str
    jti: str
    # When the token's jti may be forgotten (epoch seconds).
    expire_at: float
    claims: dict[str, Any]


def _renamed(error: IdTokenError) -> LogoutTokenError:
    reason = error.reason.replace("id_token_", "logout_token_")
    return LogoutTokenError(reason, str(error).replace("ID token", "logout token"), error.claims)


def check_logout_claims(claims: dict[str, Any], expect: Expectations, now: float) -> LogoutOrder:
    """Steps 2 to 7 on verified claims (pure)."""

    def fail(reason: str, message: str) -> LogoutTokenError:
        return LogoutTokenError(reason, message, claims)

    try:
        issuer = expected_issuer(expect, claims)
    except IdTokenError as error:
        raise _renamed(error) from None
    if claims.get("iss") != issuer:
        raise fail("iss_mismatch", "the logout token's issuer is not the connection's")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or expect.client_id not in audiences:
        raise fail("aud_mismatch", "the logout token is not meant for our client id")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise fail("iat_missing", "the logout token has no iat")
    if iat > now + LEEWAY_SECONDS:
        raise fail("iat_in_future", "the logout token was issued in the future")
    if now - iat > MAX_AGE_SECONDS + LEEWAY_SECONDS:
        raise fail("expired", "the logout token was issued too long ago")
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise fail("exp_invalid", "the logout token's exp is not a number")
        if exp + LEEWAY_SECONDS <= now:
            raise fail("expired", "the logout token has expired")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise fail("jti_missing", "the logout token has no jti")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise fail("events_missing", "the logout token has no back-channel logout event")
    if "nonce" in claims:
        raise fail("nonce_present", "a logout token must not carry a nonce")
    sid, sub = claims.get("sid", ""), claims.get("sub", "")
    if not isinstance(sid, str) or not isinstance(sub, str) or not (sid or sub):
        raise fail("sid_and_sub_missing", "the logout token names neither sid nor sub")
    return LogoutOrder(
        sid=sid,
        sub=sub,
        jti=jti,
        expire_at=float(iat) + MAX_AGE_SECONDS + 2 * LEEWAY_SECONDS,
        claims=claims,
    )


async def validate_logout_token(
    token: str, expect: Expectations, key_for: KeyLookup, now: float
) -> LogoutOrder:
    """Steps 1 to 7. ``key_for(kid, alg)`` raises with its own reason when no key fits."""
    try:
        header = read_header(token, expect.algorithms)
        alg: str = header["alg"]
        key = await key_for(header.get("kid"), alg)
        claims = verify_signature(token, key, alg)
    except IdTokenError as error:
        raise _renamed(error) from None
    return check_logout_claims(claims, expect, now)
