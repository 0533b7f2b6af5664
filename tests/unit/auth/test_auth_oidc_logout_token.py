"""Back-channel logout token validation, one test per rule of OpenID Connect Back-Channel Logout
1.0 §2.4 and §2.6. Tokens are forged with joserfc against keys of the test."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwk

from auth.sso.oidc.idtoken import Expectations
from auth.sso.oidc.jwks import SigningKeyError
from auth.sso.oidc.logout_token import (
    BACKCHANNEL_EVENT,
    LogoutTokenError,
    validate_logout_token,
)
from tests.idps.oidc import tokens

ISSUER = "https://idp.acme.test"
CLIENT = "idmesh-client"
EXPECT = Expectations(issuer=ISSUER, client_id=CLIENT, nonce="", algorithms=("RS256",))
KEY = tokens.rsa_key()


async def _key_for(kid: str | None, alg: str) -> jwk.Key:
    if kid != KEY.kid:
        raise SigningKeyError("unknown_kid", "the token's key id is not in the IdP's JWKS")
    return jwk.import_key(KEY.public_jwk)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": now,
        "exp": now + 120,
        "jti": "bWJq",
        "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
        "sub": "248289761001",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    for name, value in changes.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


async def _reason(token: str) -> str:
    try:
        await validate_logout_token(token, EXPECT, _key_for, time.time())
    except (LogoutTokenError, SigningKeyError) as error:
        return error.reason
    raise AssertionError("the logout token was accepted")


async def test_the_specifications_example_token_names_its_sid_and_sub() -> None:
    """§2.4's example claims, signed by the IdP's key: accepted, with what to end."""
    order = await validate_logout_token(
        tokens.sign(_claims(), KEY, header={"typ": "logout+jwt"}), EXPECT, _key_for, time.time()
    )
    assert (order.sid, order.sub, order.jti) == (
        "08a5019c-17e1-4977-8f42-65a12843ea02",
        "248289761001",
        "bWJq",
    )


@pytest.mark.parametrize("missing", ["sid", "sub"])
async def test_either_sid_or_sub_is_enough(missing: str) -> None:
    """§2.4: a logout token contains a sub claim, a sid claim, or both."""
    token = tokens.sign(_claims(**{missing: None}), KEY)
    order = await validate_logout_token(token, EXPECT, _key_for, time.time())
    assert getattr(order, missing) == ""


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sid": None, "sub": None}, "sid_and_sub_missing"),
        ({"events": None}, "events_missing"),
        ({"events": {"http://schemas.openid.net/event/other": {}}}, "events_missing"),
        ({"events": {BACKCHANNEL_EVENT: "yes"}}, "events_missing"),
        ({"nonce": "n-0S6_WzA2Mj"}, "nonce_present"),
        ({"jti": None}, "jti_missing"),
        ({"aud": "someone-else"}, "aud_mismatch"),
        ({"iss": "https://evil.test"}, "iss_mismatch"),
        ({"iat": None}, "iat_missing"),
        ({"iat": int(time.time()) + 3600}, "iat_in_future"),
        ({"iat": int(time.time()) - 3600, "exp": None}, "expired"),
        ({"exp": int(time.time()) - 3600}, "expired"),
    ],
)
async def test_each_claim_rule_refuses_with_its_own_reason(
    changes: dict[str, Any], reason: str
) -> None:
    """§2.6 steps 3-6: iss, aud, iat, the back-channel event, sid or sub, no nonce; §2.4: jti."""
    assert await _reason(tokens.sign(_claims(**changes), KEY)) == reason


async def test_an_id_token_is_not_a_logout_token() -> None:
    """§2.6: the events claim and the absent nonce keep an ID token from being replayed as a
    logout token."""
    id_token = tokens.sign(tokens.claims(ISSUER, CLIENT, "n-0S6_WzA2Mj"), KEY)
    assert await _reason(id_token) == "events_missing"


async def test_signatures_are_checked_like_an_id_tokens() -> None:
    """§2.6 step 2: alg none, HMAC, another key, an unknown kid are refused before any claim is
    believed."""
    other = tokens.rsa_key("k2")
    assert await _reason(tokens.sign(_claims(), other, kid=KEY.kid)) == "invalid_signature"
    assert await _reason(tokens.sign(_claims(), other)) == "unknown_kid"
    assert await _reason(tokens.unsigned(_claims())) == "alg_not_allowed"
    assert await _reason("not.a-token") == "logout_token_malformed"
