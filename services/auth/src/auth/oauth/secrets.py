"""OAuth client ids and secrets: formats, hash, constant-time check. Pure functions.

A client id reads ``idmc_<32 hex digits>`` (the row's uuid), a secret ``idmcs_<43 url-safe
characters>`` (256 random bits). As for API tokens (auth.tokens) only SHA-256 of the secret is
stored: a 256-bit random secret cannot be guessed offline whatever the hash speed.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Final

from auth.tokens import hash_secret, secret_matches

CLIENT_ID_PREFIX: Final = "idmc_"
SECRET_PREFIX: Final = "idmcs_"
_CLIENT_ID: Final = re.compile(r"idmc_([0-9a-f]{32})")
_SECRET: Final = re.compile(r"idmcs_[A-Za-z0-9_-]{43}")

__all__ = [
    "format_client_id",
    "hash_secret",
    "mint_secret",
    "parse_client_id",
    "secret_matches",
    "well_formed_secret",
]


def format_client_id(client_uuid: uuid.UUID) -> str:
    """The public client id of the client stored as ``client_uuid``."""
    return f"{CLIENT_ID_PREFIX}{client_uuid.hex}"


def parse_client_id(client_id: str) -> uuid.UUID | None:
    """The uuid in ``client_id``, or None when it is not one of ours."""
    match = _CLIENT_ID.fullmatch(client_id) if len(client_id) == 37 else None
    return None if match is None else uuid.UUID(hex=match.group(1))


def mint_secret() -> tuple[str, bytes]:
    """A fresh secret (to show once) and its hash (to store)."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def well_formed_secret(secret: str) -> bool:
    """Whether ``secret`` has our format (says nothing of validity)."""
    return len(secret) == 49 and _SECRET.fullmatch(secret) is not None
