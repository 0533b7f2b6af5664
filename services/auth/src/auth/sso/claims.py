"""What both connectors share when they read an IdP's claims or attributes, and what a login
trace may keep of them. Pure functions.

- ``space_name`` and ``space_role`` are comma-separated lists paired by position (the Torque
  guide); positions are kept, empty items included, because the six rules pair by position.
- A trace keeps the claims with secrets and single-use values redacted and long values cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

MAX_TEXT: Final = 256
MAX_GROUPS: Final = 2000
MAX_LIST_ITEMS: Final = 200
REDACTED: Final = "[redacted]"
# Claims that are secrets or single-use values: kept out of login traces by name...
_SECRET_CLAIMS: Final = frozenset({"nonce", "at_hash", "c_hash", "s_hash", "_claim_sources"})
# ... or by what their name says they carry.
_SECRET_WORDS: Final = ("token", "secret", "password", "code", "assertion")


class ClaimError(ValueError):
    """The claims cannot identify a user; ``reason`` goes to the login trace."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def text(value: Any) -> str:
    """A claim as bounded, stripped text; anything but a string is empty."""
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def split_list(value: Any) -> tuple[str, ...]:
    """A comma-separated claim, or an array of them, as its items in order (each stripped,
    empty ones kept: positions pair spaces with roles)."""
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    result: list[str] = []
    for item in items:
        if isinstance(item, str):
            result.extend(part.strip()[:MAX_TEXT] for part in item.split(","))
        if len(result) >= MAX_LIST_ITEMS:
            break
    return tuple(result[:MAX_LIST_ITEMS])


def email_domain(email: str) -> str:
    _, at, domain = email.rpartition("@")
    return domain.lower().strip(".") if at else ""


def _redact_value(name: str, value: Any, depth: int) -> Any:
    lowered = name.lower()
    if lowered in _SECRET_CLAIMS or any(word in lowered for word in _SECRET_WORDS):
        return REDACTED
    if depth > 3:
        return "[nested]"
    if isinstance(value, str):
        return value[:500]
    if isinstance(value, list):
        return [_redact_value(name, item, depth + 1) for item in value[:MAX_LIST_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:100]: _redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:100]


def redact_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims as a login trace keeps them: secrets and single-use values replaced, long
    values cut."""
    return {str(k)[:100]: _redact_value(str(k), v, 0) for k, v in list(claims.items())[:100]}
