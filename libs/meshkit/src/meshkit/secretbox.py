"""Encryption at rest of the secrets the mesh must be able to read back: AES-256-GCM.

Auth seals IdP client secrets, SAML SP keys and ID tokens with it; directory seals webhook
signing secrets (the deliverer opens them to sign each delivery). One implementation, one key
format, one key id: an operator sets the same ``IDMESH_ENCRYPTION_KEY`` on every service that
holds sealed secrets.

The key comes from the environment (``IDMESH_ENCRYPTION_KEY``, 32 bytes in base64url), never
from the database it protects. Each ciphertext is stored beside the id of the key that made it,
so keys rotate without a flag day: the new key encrypts, and the previous keys
(``IDMESH_ENCRYPTION_PREVIOUS_KEYS``) still decrypt what they made until it is re-encrypted.

A key id is derived from the key (a truncated SHA-256 under a fixed label), so it names the key
without revealing it and two deployments with the same key agree on its id. Every ciphertext is
bound through the associated data to its purpose and its row (e.g. ``idmesh connection
client_secret|<account>|<connection>``): a ciphertext copied into another row, or into a column
holding another kind of secret, does not decrypt. Callers spell out that label; the box only
requires one.

Stored form: 12-byte random nonce || ciphertext || 16-byte tag (AESGCM's output).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meshkit.config import PlainValueError

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_KEY_ID_LABEL: Final = b"idmesh secretbox key id v1\x00"


class KeyFormatError(PlainValueError):
    """A key that is not 32 bytes of base64url; the message never quotes the value, so the
    configuration may show it for this secret variable."""


class SecretBoxError(Exception):
    """A key is malformed, unknown or wrong, or a ciphertext was tampered with. The message
    never contains key material or plaintext."""


def parse_key(raw: str) -> bytes:
    """32 bytes from base64url (padding optional; standard base64 accepted too)."""
    text = raw.strip()
    try:
        key = base64.urlsafe_b64decode(
            text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
        )
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"expected {KEY_BYTES} bytes in base64url") from None
    if len(key) != KEY_BYTES:
        raise KeyFormatError(f"expected {KEY_BYTES} bytes in base64url, got {len(key)}")
    return key


def parse_keys(raw: str) -> tuple[bytes, ...]:
    """A comma-separated list of keys (``IDMESH_ENCRYPTION_PREVIOUS_KEYS``)."""
    return tuple(parse_key(part) for part in raw.split(",") if part.strip())


def new_key() -> str:
    """A fresh random key in the environment's format (for operators and tests)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii").rstrip("=")


def key_id(key: bytes) -> str:
    """The public name of ``key``: 16 hex digits of SHA-256 over a fixed label and the key."""
    return hashlib.sha256(_KEY_ID_LABEL + key).hexdigest()[:16]


@dataclass(frozen=True)
class Sealed:
    """A ciphertext and the id of the key that sealed it: the two stored columns."""

    key_id: str
    ciphertext: bytes = field(repr=False)


class SecretBox:
    """Seals with the current key; opens with the current or any previous key, by key id."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        self._current_id = key_id(current)
        self._keys: dict[str, AESGCM] = {self._current_id: AESGCM(current)}
        for key in previous:
            self._keys.setdefault(key_id(key), AESGCM(key))

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def seal(self, plaintext: str, associated: bytes) -> Sealed:
        """Encrypts ``plaintext`` bound to ``associated`` (its purpose and its row's ids)."""
        if not associated:
            raise ValueError("a sealed secret must be bound to its purpose and row")
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._keys[self._current_id].encrypt(nonce, plaintext.encode(), associated)
        return Sealed(self._current_id, nonce + ciphertext)

    def open(self, sealed: Sealed, associated: bytes) -> str:
        """The plaintext; SecretBoxError when the key is unknown or the data was altered."""
        aes = self._keys.get(sealed.key_id)
        if aes is None:
            raise SecretBoxError(
                f"no configured key has id {sealed.key_id}: add it to"
                " IDMESH_ENCRYPTION_PREVIOUS_KEYS"
            )
        nonce, body = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            return aes.decrypt(nonce, body, associated).decode()
        except (InvalidTag, ValueError):
            raise SecretBoxError("the ciphertext does not decrypt: wrong key or altered") from None

    def needs_rotation(self, sealed: Sealed) -> bool:
        """Whether ``sealed`` was made by a previous key (re-seal it with the current one)."""
        return sealed.key_id != self._current_id
