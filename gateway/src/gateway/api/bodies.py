"""Request bodies of the admin API: JSON objects validated against their documented schema, and
JSON Merge Patch (RFC 7396).

What reaches a handler is a JSON object that satisfies its schema and whose strings PostgreSQL
and protobuf can carry: a NUL character or a lone surrogate is refused here as 400 (either would
otherwise fail deep in the directory as a 500). Error messages name the offending member and
never echo the value sent.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web
from jsonschema import ValidationError
from jsonschema.exceptions import best_match

from gateway.api.schemas import validator
from meshkit.errors import InvalidArgument

JSON_MEDIA_TYPES: Final = ("application/json",)
MERGE_PATCH_MEDIA_TYPE: Final = "application/merge-patch+json"
BODY_FIELD: Final = "body"
# Request documents nest a few levels (objects of lists of objects at most); far deeper is
# hostile and refused before the recursive schema validator walks it.
MAX_BODY_DEPTH: Final = 32
# int() refuses more digits than this (sys.get_int_max_str_digits()); no field comes close.
MAX_NUMBER_DIGITS: Final = 4300


async def read_body(
    request: web.Request, schema: str, media_types: tuple[str, ...]
) -> dict[str, Any]:
    """The JSON object in ``request``'s body, valid against component ``schema``.

    415 for a Content-Type outside ``media_types`` (a body without one is read as JSON); 400
    for an empty body, malformed JSON, and anything the schema refuses, naming the member."""
    if "Content-Type" in request.headers and request.content_type.lower() not in media_types:
        raise web.HTTPUnsupportedMediaType(
            text=f"Send the body as {' or '.join(media_types)}.",
        )
    try:
        raw = await request.read()
    except web.RequestPayloadError:
        # A body its Content-Encoding does not decode (aiohttp inflates gzip and deflate).
        raise InvalidArgument(
            "the body does not decode with its Content-Encoding", field=BODY_FIELD
        ) from None
    return parse_body(raw, schema)


def parse_body(raw: bytes, schema: str) -> dict[str, Any]:
    """``raw`` as a JSON object valid against component ``schema``; 400 otherwise."""
    if not raw.strip():
        raise InvalidArgument("a JSON body is required", field=BODY_FIELD)
    value = parse_json(raw)
    _check_strings(value)
    try:
        error = best_match(validator(schema).iter_errors(value))
    except RecursionError:
        raise InvalidArgument("the body nests too deeply", field=BODY_FIELD) from None
    if error is not None:
        raise InvalidArgument(_message(error), field=_field(error))
    assert isinstance(value, dict)  # every request schema is an object
    return value


class _Refused(ValueError):
    """JSON by the letter, refused anyway: the message is the caller's detail."""


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
    """RFC 8259 §4: receivers disagree on which of two same-named members wins; refused."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = f'"{name}"' if len(name) <= 64 and name.isprintable() else "a member"
                raise _Refused(f"{shown} appears twice in one object")
            seen.add(name)
    return document


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON text in UTF-8 (RFC 8259 §8.1 "MUST be encoded using UTF-8"; a leading
    byte order mark is ignored, as §8.1 allows). 400 naming the problem otherwise: not UTF-8
    (UTF-16 and UTF-32 included), malformed (with the position), NaN or Infinity, a number out
    of range, a duplicate member, nesting deeper than MAX_BODY_DEPTH."""
    if b"\x00" in raw:
        # No JSON text holds a NUL byte; UTF-16 and UTF-32 texts are full of them.
        raise InvalidArgument(
            "the body is not UTF-8 JSON (RFC 8259 §8.1): it contains NUL bytes", field=BODY_FIELD
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgument(
            f"the body is not UTF-8 (RFC 8259 §8.1): invalid byte at offset {error.start}",
            field=BODY_FIELD,
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
        raise InvalidArgument(f"the body is refused: {refused}", field=BODY_FIELD) from None
    except json.JSONDecodeError as error:
        raise InvalidArgument(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
            field=BODY_FIELD,
        ) from None
    except (ValueError, RecursionError):
        raise InvalidArgument(
            f"the body is not valid JSON or nests deeper than {MAX_BODY_DEPTH} levels",
            field=BODY_FIELD,
        ) from None
    if _depth_exceeds(value, MAX_BODY_DEPTH):
        raise InvalidArgument(
            f"the body nests deeper than {MAX_BODY_DEPTH} levels", field=BODY_FIELD
        )
    return value


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


def _check_strings(value: Any) -> None:
    """Refuses NUL characters and lone surrogates in any string or member name (iteratively:
    json.loads already bounded the depth)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise InvalidArgument("strings must not contain NUL characters", field=BODY_FIELD)
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgument(
                    "strings must be valid Unicode (no lone surrogates)", field=BODY_FIELD
                ) from None


def _field(error: ValidationError) -> str:
    """``name.given_name``, ``emails[0].value``; the missing or unknown member when the error
    is about one; "body" for the whole document."""
    parts: list[str] = []
    for step in error.absolute_path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if parts else str(step))
    path = "".join(parts)
    named = _named_member(error)
    if named:
        path = f"{path}.{named}" if path else named
    return path or BODY_FIELD


def _named_member(error: ValidationError) -> str:
    if error.validator == "required" and isinstance(error.validator_value, list):
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in present]
        return str(missing[0]) if missing else ""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(str(name) for name in error.instance if name not in known)
        if unknown and len(unknown[0]) <= 64 and unknown[0].isprintable():
            return unknown[0]
    return ""


_MESSAGES = {
    "required": "is required",
    "additionalProperties": "is not a member of this resource (or is read-only)",
    "format": "is not a valid {format}",
    "pattern": "must not be empty or blank",
    "minLength": "must not be empty",
    "maxLength": "is longer than {maxLength} characters",
    "maxItems": "has more than {maxItems} items",
    "minItems": "needs at least {minItems} items",
    "uniqueItems": "must not repeat an item",
    "enum": "must be one of {enum}",
}
_TYPE_NAMES = {
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "integer": "an integer",
    "null": "null",
}


def _message(error: ValidationError) -> str:
    keyword = str(error.validator)
    if keyword == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        return "must be " + " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
    if keyword == "oneOf":
        return "has the wrong type"
    template = _MESSAGES.get(keyword)
    if template is None:
        return f"is invalid ({keyword})"
    value = error.validator_value
    if keyword == "enum" and isinstance(value, list):
        value = ", ".join("null" if v is None else str(v) for v in value)
    return template.format(**{keyword: value})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 §2: ``patch`` applied to ``target``; null removes a member, objects merge
    recursively, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
