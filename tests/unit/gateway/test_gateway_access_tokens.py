"""gateway.oauth.keys: local verification of client-credentials access tokens (RFC 9068
profile; RFC 8725 §3.1-3.2 algorithm verification; RFC 7519 §4.1 iss/aud/exp). The token
endpoint's rate limits are tested in test_ratelimit.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from gateway.oauth.keys import AccessTokenKeys, InvalidAccessToken
from idmesh.auth.v1 import auth_pb2

ISSUER = "https://idmesh.example.com"
NOW = 1_800_000_000


def _claims(**overrides: Any) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": ISSUER,
        "sub": "idmc_" + "a" * 32,
        "client_id": "idmc_" + "a" * 32,
        "account_id": "0b8f9a2e-6c1d-4e5f-8a7b-1c2d3e4f5a6b",
        "scope": "users:read roles:read",
        "iat": NOW,
        "exp": NOW + 600,
        **overrides,
    }


class Keys:
    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", private=True, auto_kid=True)
        self.fetches = 0
        self.now = 0.0

    def public(self) -> list[dict[str, Any]]:
        return [{**self.key.as_dict(private=False), "alg": "ES256", "use": "sig"}]

    async def fetch(self) -> auth_pb2.GetSigningKeysResponse:
        self.fetches += 1
        return auth_pb2.GetSigningKeysResponse(jwks_json=json.dumps({"keys": self.public()}))

    def verifier(self) -> AccessTokenKeys:
        return AccessTokenKeys(
            self.fetch,
            issuer=ISSUER,
            audience=ISSUER,
            monotonic=lambda: self.now,
            clock=lambda: NOW + 1,
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            {"alg": "ES256", "kid": self.key.kid, "typ": "at+jwt", **header}, claims, self.key
        )


@pytest.fixture
def keys() -> Keys:
    return Keys()


async def test_a_token_signed_by_a_published_key_is_accepted(keys: Keys) -> None:
    """The contract: at+jwt, ES256, our iss and aud, unexpired; scope becomes permissions."""
    claims = await keys.verifier().verify(keys.sign(_claims()))
    assert claims.account_id == "0b8f9a2e-6c1d-4e5f-8a7b-1c2d3e4f5a6b"
    assert claims.scopes == {"users:read", "roles:read"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": ISSUER + "/"},
        {"aud": "https://other.example.com"},
        {"exp": NOW - 60},
        {"iss": None},
        {"account_id": None},
    ],
    ids=["issuer-not-exact", "other-audience", "expired", "no-issuer", "no-account"],
)
async def test_claims_outside_the_contract_are_refused(
    keys: Keys, overrides: dict[str, Any]
) -> None:
    """RFC 7519 §4.1.1/§4.1.3/§4.1.4: iss and aud compared exactly, exp enforced, and the
    claims the gateway needs present."""
    claims = {k: v for k, v in _claims(**overrides).items() if v is not None}
    with pytest.raises(InvalidAccessToken):
        await keys.verifier().verify(keys.sign(claims))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_an_unsigned_token_is_refused(keys: Keys) -> None:
    """RFC 8725 §3.1: alg none is never accepted."""
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': keys.key.kid})}.{_b64(_claims())}."
    with pytest.raises(InvalidAccessToken):
        await keys.verifier().verify(token)


async def test_hmac_with_the_public_key_as_secret_is_refused(keys: Keys) -> None:
    """RFC 8725 §2.1 key confusion: an HS256 token "signed" with the published public key."""
    public_pem = keys.key.as_pem(private=False)
    signing_input = (
        f"{_b64({'alg': 'HS256', 'kid': keys.key.kid, 'typ': 'at+jwt'})}."
        f"{_b64(_claims(scope='users:manage'))}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(InvalidAccessToken):
        await keys.verifier().verify(forged)


async def test_a_key_of_another_type_than_the_algorithm_is_refused(keys: Keys) -> None:
    """RFC 8725 §3.1: each key is used with the one algorithm it is for (RS256 header, EC key)."""
    rsa = RSAKey.generate_key(2048, private=True)
    token = jwt.encode({"alg": "RS256", "kid": keys.key.kid, "typ": "at+jwt"}, _claims(), rsa)
    with pytest.raises(InvalidAccessToken):
        await keys.verifier().verify(token)


async def test_a_token_without_the_access_token_type_is_refused(keys: Keys) -> None:
    """RFC 9068 §4 (and RFC 8725 §3.11): typ at+jwt keeps ID tokens and other JWTs out."""
    with pytest.raises(InvalidAccessToken):
        await keys.verifier().verify(keys.sign(_claims(), typ="JWT"))


async def test_an_unknown_key_id_refetches_the_keys_at_most_once_per_interval(keys: Keys) -> None:
    """Rotation reaches the gateway through an early refetch on an unknown kid, but a flood of
    made-up kids costs auth one call per MIN_REFETCH, not one per request."""
    verifier = keys.verifier()
    await verifier.verify(keys.sign(_claims()))
    assert keys.fetches == 1
    old = keys.key
    keys.key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    rotated = keys.sign(_claims())
    with pytest.raises(InvalidAccessToken):
        await verifier.verify(rotated)  # fetched 0 s ago: not yet
    assert keys.fetches == 1
    keys.now = 11.0
    assert (await verifier.verify(rotated)).client_id == "idmc_" + "a" * 32
    assert keys.fetches == 2
    for _ in range(5):
        with pytest.raises(InvalidAccessToken):
            await verifier.verify(keys.sign(_claims(), kid="made-up"))
    assert keys.fetches == 2
    assert old.kid != keys.key.kid
