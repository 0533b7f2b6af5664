"""The API token secret format and hashing (auth/tokens.py)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from auth import tokens


def test_a_minted_secret_is_the_prefix_the_token_id_and_43_url_safe_characters() -> None:
    """Format: idm_ + token id as 32 hex digits + _ + secrets.token_urlsafe(32)."""
    minted = tokens.mint_secret()
    prefix, id_hex, randomness = minted.secret[:4], minted.secret[4:36], minted.secret[37:]
    assert prefix == "idm_"
    assert id_hex == minted.token_id.hex
    assert minted.secret[36] == "_"
    assert len(randomness) == 43
    assert set(randomness) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert len(minted.secret) == tokens.SECRET_LENGTH == 80


def test_every_minted_secret_is_different() -> None:
    """256 random bits per secret: no two tokens share an id or a secret."""
    minted = [tokens.mint_secret() for _ in range(50)]
    assert len({m.secret for m in minted}) == 50
    assert len({m.token_id for m in minted}) == 50


def test_the_stored_hash_is_sha256_of_the_whole_secret() -> None:
    """Stored: SHA-256 of the whole secret, prefix and id included (32 bytes)."""
    minted = tokens.mint_secret()
    assert minted.secret_hash == hashlib.sha256(minted.secret.encode()).digest()
    assert len(minted.secret_hash) == 32


def test_the_minted_secret_and_hash_stay_out_of_its_repr() -> None:
    """No secrets in logs: a logged MintedSecret shows only its id."""
    minted = tokens.mint_secret()
    shown = repr(minted)
    assert minted.secret not in shown
    assert minted.secret_hash.hex() not in shown
    assert str(minted.token_id) in shown or minted.token_id.hex in shown


def test_parsing_a_well_formed_secret_returns_its_token_id() -> None:
    """Verification parses the id out of the secret to load exactly one row."""
    token_id = uuid.uuid4()
    secret = tokens.format_secret(token_id, "A" * 21 + "_-" + "z" * 20)
    assert tokens.parse_token_id(secret) == token_id


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "idm_",
        "Bearer idm_" + "0" * 32 + "_" + "a" * 43,
        "idx_" + "0" * 32 + "_" + "a" * 43,
        "idm_" + "0" * 32 + "_" + "a" * 42,
        "idm_" + "0" * 32 + "_" + "a" * 44,
        "idm_" + "0" * 32 + "_" + "a" * 42 + "\n",
        "idm_" + "A" * 32 + "_" + "a" * 43,
        "idm_" + "g" * 32 + "_" + "a" * 43,
        "idm_" + "0" * 31 + "_" + "_" + "a" * 43,
        "idm_" + "0" * 32 + "-" + "a" * 43,
        "idm_" + "0" * 32 + "_" + "a" * 42 + "=",
        "idm_" + "0" * 32 + "_" + "a" * 42 + "é",
        "idm_" + "0" * 32 + "_" + "a" * 42 + "+",
    ],
)
def test_a_malformed_secret_has_no_token_id(secret: str) -> None:
    """A malformed secret is rejected before any lookup (and then answered like any other
    invalid token)."""
    assert tokens.parse_token_id(secret) is None


def test_the_right_secret_matches_its_stored_hash() -> None:
    """Verification compares SHA-256 hashes."""
    minted = tokens.mint_secret()
    assert tokens.secret_matches(minted.secret, minted.secret_hash)


def test_a_secret_with_one_character_changed_does_not_match() -> None:
    """A tampered secret (same id, one character of the random part changed) is refused."""
    minted = tokens.mint_secret()
    last = minted.secret[-1]
    tampered = minted.secret[:-1] + ("B" if last != "B" else "C")
    assert tokens.parse_token_id(tampered) == minted.token_id
    assert not tokens.secret_matches(tampered, minted.secret_hash)
