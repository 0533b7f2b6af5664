"""JSON request bodies read strictly (RFC 8259), for every service that takes JSON from a client.

UTF-8 only (§8.1 "MUST be encoded using UTF-8"; a leading byte order mark is ignored, as §8.1
allows), so UTF-16 and UTF-32 are refused rather than guessed. Refused too, though JSON by the
letter or a common extension: NaN and Infinity, numbers beyond the double range or longer than
int() reads (a 500 otherwise), members named twice in one object (§4: receivers disagree on
which wins), and nesting deeper than a request ever needs (recursive walkers further on would
hit RecursionError). Every refusal says what is wrong without echoing the body.
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_DEPTH: Final = 32
"""Request documents nest a handful of levels (a SCIM PATCH value of an extension's complex
attribute is the deepest, about 7); far deeper is hostile."""
MAX_NUMBER_DIGITS: Final = 4300
"""What int() reads (sys.get_int_max_str_digits()); no request value comes near it."""


class JsonRefused(ValueError):
    """The body is not JSON idmesh takes; the message is written for the client."""


def loads(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` as a JSON value, or JsonRefused naming the problem: not UTF-8 (with the offset),
    malformed (with line and column), NaN or Infinity, a number out of range, a duplicate
    member, nesting deeper than ``max_depth``."""
    if b"\x00" in raw:
        # No JSON text holds a NUL byte; UTF-16 and UTF-32 texts are full of them.
        raise JsonRefused("the body is not UTF-8 JSON (RFC 8259 §8.1): it contains NUL bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonRefused(
            f"the body is not UTF-8 (RFC 8259 §8.1): invalid byte at offset {error.start}"
        ) from None
    try:
        value = json.loads(
            text.removeprefix("\ufeff"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_members,
        )
    except _Refused as refused:
        raise JsonRefused(f"the body is refused: {refused}") from None
    except json.JSONDecodeError as error:
        raise JsonRefused(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except (ValueError, RecursionError):
        raise JsonRefused(
            f"the body is not valid JSON or nests deeper than {max_depth} levels"
        ) from None
    if _depth_exceeds(value, max_depth):
        raise JsonRefused(f"the body nests deeper than {max_depth} levels")
    return value


class _Refused(ValueError):
    """Raised inside json.loads' hooks; its message becomes the refusal's."""


def _reject_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused("a number is too large to represent")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = f'"{name}"' if len(name) <= 64 and name.isprintable() else "a member"
                raise _Refused(f"{shown} appears twice in one object")
            seen.add(name)
    return document


def _depth_exceeds(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return False
