"""Keyset page tokens for the SSO lists (connections, login traces), bound to the request they
continue: replayed with another account or filter they are INVALID_ARGUMENT (AIP-158)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from meshkit.errors import InvalidArgument

_VERSION: Final = "s1"


@dataclass(frozen=True)
class Cursor:
    time: datetime
    id: uuid.UUID


def _scope_digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode(scope: str, cursor: Cursor) -> str:
    """An opaque token for the page after ``cursor`` of the list described by ``scope``."""
    raw = "|".join((_VERSION, _scope_digest(scope), cursor.time.isoformat(), cursor.id.hex))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, scope: str) -> Cursor | None:
    """The cursor in ``token``, None for the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        version, digest, time, id_hex = raw.split("|")
        cursor = Cursor(datetime.fromisoformat(time), uuid.UUID(hex=id_hex))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidArgument("invalid page token", field="page_token") from None
    if version != _VERSION or cursor.time.tzinfo is None:
        raise InvalidArgument("invalid page token", field="page_token")
    if digest != _scope_digest(scope):
        raise InvalidArgument(
            "page token does not match this request's parameters", field="page_token"
        )
    return cursor
