"""Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme").

The secret is ``whsec_`` + base64 of random bytes; the signed content is
``{webhook-id}.{webhook-timestamp}.{body}``; the signature is ``v1,`` + base64 of its
HMAC-SHA256. During a secret rotation both secrets sign, space-separated, and a receiver
accepts either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Final

SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> Mapping[str, str]:
    """The three headers of a delivery, signed with every secret given."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(s, message_id, timestamp, body) for s in secrets_ if s
        ),
    }
