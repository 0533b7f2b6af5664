"""The API token secret: its format, its hash, and the check of a presented secret.

A secret reads ``idm_<token id as 32 hex digits>_<43 url-safe characters>``. The prefix lets
secret scanners (and people) recognise a leaked idmesh token; the embedded id lets verification
load exactly one row by primary key instead of searching by hash; the last part carries the 256
random bits that make the secret unguessable.

Only SHA-256 of the whole secret is stored. A slow password hash (argon2, bcrypt) defends
low-entropy human passwords against offline guessing; a 256-bit random secret cannot be guessed
even at unlimited hash speed, so a fast hash loses nothing and keeps verification cheap on the
hot path of every SCIM request.

Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Final

PREFIX: Final = "idm_"
_RANDOM_BYTES: Final = 32
# token_urlsafe(32): 32 bytes in unpadded base64url are always 43 characters.
_RANDOM_CHARS: Final = 43
SECRET_LENGTH: Final = len(PREFIX) + 32 + 1 + _RANDOM_CHARS
# Lowercase hex id (uuid.hex), one underscore, then base64url (whose alphabet includes "_" and
# "-", hence fixed lengths rather than splitting on "_"). ASCII classes only, matched in full.
_SECRET: Final = re.compile(r"idm_([0-9a-f]{32})_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class MintedSecret:
    """A new token's id, its secret (to show once) and the hash to store."""

    token_id: uuid.UUID
    secret: str = field(repr=False)
    secret_hash: bytes = field(repr=False)


def format_secret(token_id: uuid.UUID, randomness: str) -> str:
    """The secret for ``token_id`` with ``randomness`` (43 url-safe characters)."""
    return f"{PREFIX}{token_id.hex}_{randomness}"


def mint_secret() -> MintedSecret:
    """A fresh token id (uuid4) and secret with 256 bits from the OS CSPRNG."""
    token_id = uuid.uuid4()
    secret = format_secret(token_id, secrets.token_urlsafe(_RANDOM_BYTES))
    return MintedSecret(token_id=token_id, secret=secret, secret_hash=hash_secret(secret))


def hash_secret(secret: str) -> bytes:
    """SHA-256 of the whole secret (prefix and id included), 32 bytes: the stored form."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def parse_token_id(secret: str) -> uuid.UUID | None:
    """The token id embedded in ``secret``, or None when it is not a well-formed secret.

    Well-formed says nothing about validity: the caller still compares the hash."""
    if len(secret) != SECRET_LENGTH:
        return None
    match = _SECRET.fullmatch(secret)
    if match is None:
        return None
    return uuid.UUID(hex=match.group(1))


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time so the response
    time says nothing about how many leading bytes matched."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
