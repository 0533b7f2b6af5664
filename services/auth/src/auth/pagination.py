"""ListApiTokens paging: page sizes and opaque keyset page tokens on (create_time, id).

A page token is bound to the request it continues (account and include_revoked), as AIP-158
asks: replaying it with other parameters is INVALID_ARGUMENT rather than a confusing page.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from meshkit.errors import InvalidArgument

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200
_VERSION: Final = "v1"


@dataclass(frozen=True)
class Cursor:
    """The last token of a page; the next page starts strictly after it."""

    create_time: datetime
    id: uuid.UUID


def page_size(requested: int) -> int:
    """0 means the default (50); above 200 is lowered to 200 (AIP-158); negative is invalid."""
    if requested < 0:
        raise InvalidArgument("must not be negative", field="page_size")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_page_token(account_id: uuid.UUID, include_revoked: bool, cursor: Cursor) -> str:
    """An opaque token for the page after ``cursor``."""
    raw = "|".join(
        (
            _VERSION,
            account_id.hex,
            "1" if include_revoked else "0",
            cursor.create_time.isoformat(),
            cursor.id.hex,
        )
    )
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_page_token(token: str, account_id: uuid.UUID, include_revoked: bool) -> Cursor | None:
    """The cursor in ``token`` (None for the first page); InvalidArgument(field="page_token")
    when it is malformed or was issued for another account or include_revoked."""
    if not token:
        return None
    invalid = InvalidArgument("invalid page token", field="page_token")
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        version, account_hex, revoked_flag, create_time, id_hex = raw.split("|")
        cursor = Cursor(create_time=datetime.fromisoformat(create_time), id=uuid.UUID(hex=id_hex))
        owner = uuid.UUID(hex=account_hex)
    except (ValueError, UnicodeError, binascii.Error):
        raise invalid from None
    if version != _VERSION or cursor.create_time.tzinfo is None:
        raise invalid
    if owner != account_id or revoked_flag != ("1" if include_revoked else "0"):
        raise InvalidArgument(
            "page token does not match this request's parameters", field="page_token"
        )
    return cursor
