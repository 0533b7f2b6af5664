"""ID token validation, one test per row of the OIDC checklist (docs/sso-security.md §3,
OIDC Core §3.1.3.7, RFC 8725). Tokens are forged with joserfc against keys of the test."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwk

from auth.sso.oidc.idtoken import (
    Expectations,
    IdTokenError,
    check_claims,
    read_header,
    validate_id_token,
)
from auth.sso.oidc.jwks import SigningKeyError
from tests.idps.oidc import tokens

ISSUER = "https://idp.acme.test"
CLIENT = "idmesh-client"
NONCE = "n-0S6_WzA2Mj"
ALGS = ("RS256", "PS256", "ES256")
EXPECT = Expectations(issuer=ISSUER, client_id=CLIENT, nonce=NONCE, algorithms=ALGS)


def _keys(*keys: tokens.SigningKey) -> Any:
    by_kid = {key.kid: key for key in keys}

    async def key_for(kid: str | None, alg: str) -> jwk.Key:
        if kid not in by_kid:
            raise SigningKeyError("unknown_kid", "the token's key id is not in the IdP's JWKS")
        return jwk.import_key(by_kid[kid].public_jwk)

    return key_for


async def _refusal(token: str, expect: Expectations = EXPECT, now: float | None = None) -> str:
    try:
        await validate_id_token(token, expect, _keys(tokens.rsa_key()), now or time.time())
    except (IdTokenError, SigningKeyError) as error:
        return error.reason
    raise AssertionError("the token was accepted")


def _good(**changes: Any) -> dict[str, Any]:
    return tokens.claims(ISSUER, CLIENT, NONCE, **changes)


async def test_a_token_signed_by_the_idp_with_every_claim_right_is_accepted() -> None:
    """OIDC Core §3.1.3.7: the positive case, with the clock delta recorded."""
    now = time.time()
    token = tokens.sign(_good(now=now - 2), tokens.rsa_key())
    valid = await validate_id_token(token, EXPECT, _keys(tokens.rsa_key()), now)
    assert valid.claims["sub"] == "alice"
    assert 1.0 <= valid.clock_delta <= 3.0


async def test_an_es256_token_is_accepted_with_an_ec_key() -> None:
    """The default allow-list is RS256, PS256, ES256."""
    key = tokens.ec_key()
    valid = await validate_id_token(tokens.sign(_good(), key), EXPECT, _keys(key), time.time())
    assert valid.header["alg"] == "ES256"


async def test_alg_none_is_refused_before_any_key_is_looked_up() -> None:
    """Checklist row 1, RFC 8725 §3.1 (CVE-2015-9235): "none" is never an algorithm."""
    assert await _refusal(tokens.unsigned(_good())) == "alg_not_allowed"


async def test_hs256_signed_with_the_idps_public_key_is_refused() -> None:
    """Checklist row 1, RFC 8725 §3.2 (PyJWT CVE-2022-29217, python-jose CVE-2024-33663): an
    HMAC keyed with the published public key is forgeable by anyone."""
    token = tokens.hs256_with_public_key(_good(), tokens.rsa_key())
    assert await _refusal(token) == "alg_not_allowed"


async def test_hs256_is_refused_even_when_an_admin_lists_it() -> None:
    """The allow-list can only narrow the asymmetric set: HMAC never gets a key."""
    expect = Expectations(ISSUER, CLIENT, NONCE, algorithms=("RS256", "HS256"))
    token = tokens.hs256_with_public_key(_good(), tokens.rsa_key())
    assert await _refusal(token, expect) == "alg_not_allowed"


async def test_an_algorithm_outside_the_connections_list_is_refused() -> None:
    """Checklist row 1: per-connection allow-list (here PS256 only)."""
    expect = Expectations(ISSUER, CLIENT, NONCE, algorithms=("PS256",))
    assert await _refusal(tokens.sign(_good(), tokens.rsa_key()), expect) == "alg_not_allowed"


async def test_a_tampered_payload_fails_the_signature_check() -> None:
    """JWS (RFC 7515 §5.2): the signature covers the payload."""
    token = tokens.tamper(tokens.sign(_good(), tokens.rsa_key()), sub="mallory")
    assert await _refusal(token) == "invalid_signature"


async def test_a_token_signed_by_another_key_with_the_idps_kid_is_refused() -> None:
    """An attacker's key presented under the IdP's key id does not verify."""
    attacker = tokens.rsa_key("attacker")
    token = tokens.sign(_good(), attacker, kid="k1")
    assert await _refusal(token) == "invalid_signature"


async def test_an_unknown_kid_is_refused_by_the_key_lookup() -> None:
    """Checklist row "JWKS cache": no key, no login (the refetch is jwks.py's, tested there)."""
    token = tokens.sign(_good(), tokens.rsa_key("k9"))
    assert await _refusal(token) == "unknown_kid"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.test"}, "iss_mismatch"),
        ({"iss": ISSUER + "/"}, "iss_mismatch"),
        ({"aud": "another-client"}, "aud_mismatch"),
        ({"aud": ["another-client", "third"]}, "aud_mismatch"),
        ({"aud": [CLIENT, "another-client"]}, "azp_mismatch"),
        ({"aud": [CLIENT, "another-client"], "azp": "another-client"}, "azp_mismatch"),
        ({"azp": "another-client"}, "azp_mismatch"),
        ({"nonce": "another-nonce"}, "nonce_mismatch"),
        ({"nonce": None}, "nonce_mismatch"),
        ({"sub": None}, "sub_missing"),
        ({"exp": None}, "exp_missing"),
        ({"iat": None}, "iat_missing"),
    ],
)
async def test_each_claim_check_refuses_with_its_own_reason(
    changes: dict[str, Any], reason: str
) -> None:
    """OIDC Core §3.1.3.7 items 2-3 (iss exact, aud contains client_id), 4-5 (azp), 11
    (nonce); sub, exp and iat are required."""
    assert await _refusal(tokens.sign(_good(**changes), tokens.rsa_key())) == reason


async def test_several_audiences_with_our_azp_are_accepted() -> None:
    """OIDC Core §3.1.3.7 item 4: with several audiences, azp must name us."""
    token = tokens.sign(_good(aud=[CLIENT, "api"], azp=CLIENT), tokens.rsa_key())
    await validate_id_token(token, EXPECT, _keys(tokens.rsa_key()), time.time())


async def test_an_expired_token_is_refused_past_the_sixty_second_leeway() -> None:
    """OIDC Core §3.1.3.7 item 9; checklist: leeway ≤ 60 s."""
    now = time.time()
    assert await _refusal(tokens.sign(_good(now=now - 400), tokens.rsa_key()), now=now) == (
        "expired"
    )
    # 30 s after exp is inside the leeway.
    just = tokens.sign(_good(now=now - 330), tokens.rsa_key())
    await validate_id_token(just, EXPECT, _keys(tokens.rsa_key()), now)


async def test_a_token_issued_in_the_future_is_refused() -> None:
    """Checklist: iat bounded (a clock far ahead is shown in the trace's clock delta)."""
    now = time.time()
    token = tokens.sign(_good(now=now + 300), tokens.rsa_key())
    assert await _refusal(token, now=now) == "iat_invalid"


async def test_a_token_issued_long_ago_is_refused_even_if_not_expired() -> None:
    """Checklist: iat bounded; a token fresh from the token endpoint is never 10 minutes old."""
    now = time.time()
    token = tokens.sign(_good(now=now - 3600, lifetime=7200), tokens.rsa_key())
    assert await _refusal(token, now=now) == "iat_too_old"


async def test_a_not_yet_valid_token_is_refused() -> None:
    """RFC 7519 §4.1.5 nbf."""
    now = time.time()
    token = tokens.sign(_good(nbf=int(now) + 600), tokens.rsa_key())
    assert await _refusal(token, now=now) == "nbf_invalid"


async def test_a_claim_failure_carries_the_verified_claims_and_clock_delta_for_the_trace() -> None:
    """The login trace shows what the IdP sent once it is known to be the IdP's."""
    now = time.time()
    with pytest.raises(IdTokenError) as caught:
        check_claims(_good(now=now - 5, aud="other"), EXPECT, now)
    assert caught.value.claims is not None
    assert caught.value.claims["aud"] == "other"
    assert caught.value.clock_delta is not None
    assert 4 <= caught.value.clock_delta <= 6


def test_critical_header_extensions_are_refused() -> None:
    """RFC 7515 §4.1.11: a crit we do not implement makes the JWS invalid."""
    token = tokens.with_header({"alg": "RS256", "kid": "k1", "crit": ["exp"], "exp": 1}, _good())
    with pytest.raises(IdTokenError) as caught:
        read_header(token, ALGS)
    assert caught.value.reason == "crit_unsupported"


def test_a_jwe_or_garbage_is_not_an_id_token() -> None:
    """Compact JWS only: five segments (JWE), or no dots, are refused up front."""
    for junk in ("a.b.c.d.e", "no-dots", "", "x" * 70_000):
        with pytest.raises(IdTokenError) as caught:
            read_header(junk, ALGS)
        assert caught.value.reason == "id_token_malformed"


async def test_a_jku_header_is_never_followed() -> None:
    """RFC 8725 §3.10: keys come from the discovered jwks_uri only; a token's jku or x5u
    header points nowhere we go (the lookup sees only kid and alg)."""
    seen: list[tuple[str | None, str]] = []
    key = tokens.rsa_key()

    async def key_for(kid: str | None, alg: str) -> jwk.Key:
        seen.append((kid, alg))
        return jwk.import_key(key.public_jwk)

    attacker = tokens.rsa_key("attacker")
    token = tokens.sign(
        _good(), attacker, kid="k1",
        header={"jku": "https://evil.test/jwks", "x5u": "https://evil.test/cert.pem"},
    )  # fmt: skip
    with pytest.raises(IdTokenError) as caught:
        await validate_id_token(token, EXPECT, key_for, time.time())
    assert caught.value.reason == "invalid_signature"
    assert seen == [("k1", "RS256")]


ENTRA = "https://login.microsoftonline.com/{tenantid}/v2.0"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


async def test_an_entra_multi_tenant_token_is_checked_against_its_own_tenant() -> None:
    """MS Q&A 303897, AzureAD identitymodel#1731: iss is the template filled with the token's
    tid, and the tid must be allowed."""
    expect = Expectations(ENTRA, CLIENT, NONCE, ALGS, allowed_tenant_ids=(TENANT,))
    issuer = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    good = tokens.sign(tokens.claims(issuer, CLIENT, NONCE, tid=TENANT), tokens.rsa_key())
    await validate_id_token(good, expect, _keys(tokens.rsa_key()), time.time())

    other = "11111111-2222-3333-4444-555555555555"
    foreign = tokens.claims(f"https://login.microsoftonline.com/{other}/v2.0", CLIENT, NONCE,
                            tid=other)  # fmt: skip
    assert await _refusal(tokens.sign(foreign, tokens.rsa_key()), expect) == "tenant_not_allowed"
    # An allowed tid with another tenant's issuer does not pass either.
    mixed = tokens.claims(f"https://login.microsoftonline.com/{other}/v2.0", CLIENT, NONCE,
                          tid=TENANT)  # fmt: skip
    assert await _refusal(tokens.sign(mixed, tokens.rsa_key()), expect) == "iss_mismatch"
    no_tid = tokens.claims(issuer, CLIENT, NONCE)
    assert await _refusal(tokens.sign(no_tid, tokens.rsa_key()), expect) == "tid_missing"
