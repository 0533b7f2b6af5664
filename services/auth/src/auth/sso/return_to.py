"""Where a browser may be sent after a login: only a same-origin relative path (RFC 9700 §4.11,
no open redirect).

Browsers are lenient where attackers need them to be: ``//evil.test`` and ``/\\evil.test`` are
other hosts, tabs and newlines inside a URL are dropped (so ``/\\t/evil.test`` becomes
``//evil.test``), and some servers and proxies decode ``%2F``/``%5C`` before routing. So the
value must be printable ASCII without spaces, start with one ``/`` that no ``/`` or ``\\`` follows,
contain no ``\\`` at all, have no scheme or authority, and stay so after up to three rounds of
percent-decoding. Pure.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urlsplit

MAX_LENGTH: Final = 2048
_PRINTABLE_ASCII: Final = re.compile(r"^[\x21-\x7e]*$")
_DECODE_ROUNDS: Final = 3


class ReturnToError(ValueError):
    """``return_to`` is not a same-origin relative path."""


def _safe_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return False
    if "\\" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def check_return_to(value: str, default: str = "/") -> str:
    """``value`` unchanged when it is a safe same-origin relative path, ``default`` when it is
    empty; ReturnToError otherwise."""
    if not value:
        return default
    if len(value) > MAX_LENGTH or not _PRINTABLE_ASCII.match(value):
        raise ReturnToError("return_to must be a short relative path of printable ASCII")
    decoded = value
    for _ in range(_DECODE_ROUNDS + 1):
        if not _safe_path(decoded):
            raise ReturnToError("return_to must be a relative path on this site")
        again = unquote(decoded)
        if again == decoded:
            return value
        decoded = again
    raise ReturnToError("return_to is encoded too many times")
