"""auth.oauth: client id and secret formats, scope narrowing (RFC 6749 §3.3) and the signing
key set (RFC 7517 §5; rotation keeps a retired key published for one token lifetime)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from auth.oauth import secrets
from auth.oauth.issuer import grantable, narrow_scopes
from auth.oauth.signing import SigningKeyError, SigningKeys
from meshkit.errors import InvalidArgument


def test_a_client_id_round_trips_and_foreign_ids_are_not_ours() -> None:
    """idmc_<32 hex>: anything else (an API token, a uuid) is None, never an exception."""
    import uuid

    client = uuid.uuid4()
    assert secrets.parse_client_id(secrets.format_client_id(client)) == client
    assert secrets.parse_client_id(str(client)) is None
    assert secrets.parse_client_id("idm_" + client.hex) is None


def test_a_minted_secret_is_well_formed_and_only_its_hash_is_kept() -> None:
    """256 random bits; SHA-256 stored, compared in constant time (hmac.compare_digest)."""
    secret, digest = secrets.mint_secret()
    assert secrets.well_formed_secret(secret)
    assert secret.encode() not in digest
    assert secrets.secret_matches(secret, digest)
    assert not secrets.secret_matches(secret[:-1] + "x", digest)


def test_no_scope_means_every_permission_of_the_client() -> None:
    """RFC 6749 §3.3: the server may apply a default scope; ours is all the client holds."""
    assert narrow_scopes(("roles:read", "users:read"), []) == ("roles:read", "users:read")


def test_a_scope_narrows_and_manage_includes_read() -> None:
    """Asking for less is allowed, including x:read of a client holding x:manage."""
    assert narrow_scopes(("users:manage",), ["users:read"]) == ("users:read",)
    assert grantable(("users:manage",), "users:read")
    assert not grantable(("users:read",), "users:manage")


@pytest.mark.parametrize("scope", ["users:manage", "audit:read", "root"])
def test_a_scope_beyond_the_client_is_invalid_scope(scope: str) -> None:
    """RFC 6749 §5.2 invalid_scope: a client never widens its own permissions."""
    with pytest.raises(InvalidArgument) as caught:
        narrow_scopes(("users:read",), [scope])
    assert caught.value.reason == "invalid_scope"


def _write(path: Path, keys: list[Any], mtime: float) -> None:
    path.write_text(json.dumps({"keys": [k.as_dict(private=True) for k in keys]}))
    os.utime(path, (mtime, mtime))


def test_the_first_key_of_the_file_signs_and_every_key_is_published(tmp_path: Path) -> None:
    """IDMESH_SIGNING_KEYS_FILE: first key signs; the set published has no private members."""
    first = ECKey.generate_key("P-256", private=True, auto_kid=True)
    second = RSAKey.generate_key(2048, private=True, auto_kid=True)
    path = tmp_path / "jwks.json"
    _write(path, [first, second], 1000.0)
    keys = SigningKeys(path, token_ttl_seconds=600)
    published = keys.public_jwks()["keys"]
    assert [k["kid"] for k in published] == [first.kid, second.kid]
    assert [k["alg"] for k in published] == ["ES256", "RS256"]
    assert all(not {"d", "p", "q"} & set(k) for k in published)
    token = keys.sign({"sub": "x"})
    decoded = jwt.decode(token, KeySet.import_key_set({"keys": published}))
    assert decoded.header == {"alg": "ES256", "kid": first.kid, "typ": "at+jwt"}


def test_a_rotated_out_key_stays_published_for_one_token_lifetime(tmp_path: Path) -> None:
    """Rotation without breaking live tokens: the new key signs as soon as the file changes;
    the old one is published until every token it signed has expired."""
    old = ECKey.generate_key("P-256", private=True, auto_kid=True)
    new = ECKey.generate_key("P-256", private=True, auto_kid=True)
    path = tmp_path / "jwks.json"
    _write(path, [old], 1000.0)
    now = [0.0]
    keys = SigningKeys(path, token_ttl_seconds=600, reload_interval=10, monotonic=lambda: now[0])
    _write(path, [new], 2000.0)
    now[0] = 11.0
    assert jwt.decode(keys.sign({}), new).header["kid"] == new.kid
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [new.kid, old.kid]
    now[0] = 11.0 + 600
    assert [k["kid"] for k in keys.public_jwks()["keys"]] == [new.kid]


def test_a_public_only_or_unsuitable_key_is_refused_at_start(tmp_path: Path) -> None:
    """A key file that could not sign fails the service at start, loudly."""
    path = tmp_path / "jwks.json"
    key = ECKey.generate_key("P-256", private=True)
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    with pytest.raises(SigningKeyError):
        SigningKeys(path, token_ttl_seconds=600)
    other_curve = ECKey.generate_key("P-384", private=True)
    path.write_text(json.dumps({"keys": [other_curve.as_dict(private=True)]}))
    with pytest.raises(SigningKeyError):
        SigningKeys(path, token_ttl_seconds=600)


def test_without_a_key_file_a_process_key_is_generated(tmp_path: Path) -> None:
    """The dev overlay's empty set (or no file) signs with an ephemeral P-256 key."""
    path = tmp_path / "jwks.json"
    path.write_text('{"keys": []}')
    for keys in (SigningKeys(path, token_ttl_seconds=600), SigningKeys(None, token_ttl_seconds=1)):
        (published,) = keys.public_jwks()["keys"]
        assert published["crv"] == "P-256"
        assert "d" not in published


def test_workers_holding_one_seed_derive_one_signing_key_and_others_another() -> None:
    """Without IDMESH_SIGNING_KEYS_FILE, auth's workers derive the key from their supervisor's
    secret: the same seed is the same key (a token one worker signs, another publishes), a
    different seed (another replica, a restart) a different one; each signs and verifies."""
    from auth.oauth.signing import derive_key

    seed = os.urandom(32)
    first, again, other = derive_key(seed), derive_key(seed), derive_key(os.urandom(32))
    assert first.kid == again.kid != other.kid
    assert first.public() == again.public()
    token = jwt.encode({"alg": "ES256", "kid": first.kid}, {"sub": "x"}, first.key)
    assert jwt.decode(token, ECKey.import_key(again.public())).claims == {"sub": "x"}
