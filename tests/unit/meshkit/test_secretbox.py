"""Secrets at rest (IdP client secrets in auth, webhook signing secrets in directory): AES-256-GCM
with a key from the environment, its id stored beside the ciphertext so keys rotate
(docs/sso-security.md §3: "secrets stored per connection, encrypted"; docs/events.md, "Secrets at
rest")."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from meshkit.config import ConfigError, load_config, setting
from meshkit.secretbox import (
    Sealed,
    SecretBox,
    SecretBoxError,
    key_id,
    new_key,
    parse_key,
    parse_keys,
)

ROW = b"idmesh connection client_secret|account|connection"
# Sealed by auth's secretbox before it moved into meshkit (key: bytes 0..31): the rows auth stored
# then must still open.
STORED_BEFORE = Sealed(
    "309763e32e43e27a",
    bytes.fromhex(
        "e7bb2b6911a1f1041a99bfe2da9b0ba2bc2d98b30c78c5ecbb7e12489fe71d5b03ac083a318dc66e2d6aa6"
        "e62f19cd409e0567d905"
    ),
)
STORED_BEFORE_ROW = (
    b"idmesh connection client_secret|11111111-1111-1111-1111-111111111111"
    b"|22222222-2222-2222-2222-222222222222"
)


def test_a_sealed_secret_opens_with_the_same_key_and_row() -> None:
    """Round trip; the ciphertext does not contain the plaintext."""
    box = SecretBox(parse_key(new_key()))
    sealed = box.seal("s3cret-value", ROW)
    assert b"s3cret-value" not in sealed.ciphertext
    assert box.open(sealed, ROW) == "s3cret-value"
    assert sealed.key_id == box.current_key_id


def test_each_seal_uses_a_fresh_nonce() -> None:
    """AES-GCM must never reuse a nonce under one key."""
    box = SecretBox(parse_key(new_key()))
    assert box.seal("x", ROW).ciphertext != box.seal("x", ROW).ciphertext


def test_a_ciphertext_moved_to_another_row_does_not_open() -> None:
    """The associated data binds a secret to its connection: copying it elsewhere fails."""
    box = SecretBox(parse_key(new_key()))
    sealed = box.seal("secret", ROW)
    with pytest.raises(SecretBoxError):
        box.open(sealed, b"idmesh connection client_secret|account|other")


def test_a_tampered_ciphertext_does_not_open() -> None:
    """GCM's tag authenticates the ciphertext."""
    box = SecretBox(parse_key(new_key()))
    sealed = box.seal("secret", ROW)
    flipped = bytearray(sealed.ciphertext)
    flipped[-1] ^= 1
    with pytest.raises(SecretBoxError):
        box.open(type(sealed)(sealed.key_id, bytes(flipped)), ROW)


def test_after_a_rotation_the_previous_key_still_opens_and_the_new_key_seals() -> None:
    """Rotation without a flag day: IDMESH_ENCRYPTION_PREVIOUS_KEYS decrypts old rows."""
    old, new = parse_key(new_key()), parse_key(new_key())
    sealed = SecretBox(old).seal("secret", ROW)
    rotated = SecretBox(new, [old])
    assert rotated.open(sealed, ROW) == "secret"
    assert rotated.needs_rotation(sealed)
    assert rotated.seal("secret", ROW).key_id == key_id(new)


def test_a_secret_sealed_with_an_unknown_key_names_the_missing_key_id() -> None:
    """The error says which key is missing, never any key material."""
    sealed = SecretBox(parse_key(new_key())).seal("secret", ROW)
    with pytest.raises(SecretBoxError, match=sealed.key_id):
        SecretBox(parse_key(new_key())).open(sealed, ROW)


def test_key_ids_are_stable_and_do_not_reveal_the_key() -> None:
    key = parse_key(new_key())
    assert key_id(key) == key_id(bytes(key))
    assert len(key_id(key)) == 16
    assert key.hex()[:16] != key_id(key)


@pytest.mark.parametrize("raw", ["", "short", "A" * 44 + "!!", "QUFB"])
def test_a_key_that_is_not_32_bytes_of_base64url_is_refused(raw: str) -> None:
    """IDMESH_ENCRYPTION_KEY is 32 bytes base64url."""
    with pytest.raises(ValueError, match="32 bytes"):
        parse_key(raw)


def test_keys_parse_padded_or_not_and_as_a_comma_list() -> None:
    raw = new_key()
    assert parse_key(raw) == parse_key(raw + "=")
    other = new_key()
    assert parse_keys(f"{raw}, {other},") == (parse_key(raw), parse_key(other))


def test_a_secret_auth_sealed_before_the_box_moved_to_meshkit_still_opens() -> None:
    """One implementation for auth and directory, and no re-encryption: the stored form and the
    key id are unchanged."""
    box = SecretBox(bytes(range(32)))
    assert box.current_key_id == STORED_BEFORE.key_id
    assert box.open(STORED_BEFORE, STORED_BEFORE_ROW) == "client-secret-from-before"


def test_a_secret_bound_to_nothing_is_refused() -> None:
    """The associated data names the purpose and the row; without it a ciphertext could be
    moved anywhere."""
    with pytest.raises(ValueError, match="bound"):
        SecretBox(parse_key(new_key())).seal("secret", b"")


@dataclass(frozen=True)
class _KeyConfig:
    key: bytes = setting("IDMESH_ENCRYPTION_KEY", parse=parse_key, secret=True)


def test_a_malformed_key_is_a_configuration_error_that_says_why_without_the_value() -> None:
    """The key's parse errors never quote it, so the configuration shows them, unlike other
    secret variables' errors."""
    raw = "c2hvcnQta2V5LW9mLTE2LWI"
    with pytest.raises(ConfigError) as raised:
        load_config(_KeyConfig, {"IDMESH_ENCRYPTION_KEY": raw})
    (problem,) = raised.value.problems
    assert problem.startswith("IDMESH_ENCRYPTION_KEY is invalid: expected 32 bytes")
    assert raw not in str(raised.value)
