"""Request bodies of the admin API: JSON objects validated against their documented schema, and
JSON Merge Patch (RFC 7396).

What reaches a handler is a JSON object that satisfies its schema and whose strings PostgreSQL
and protobuf can carry: a NUL character or a lone surrogate is refused here as 400 (either would
otherwise fail deep in the directory as a 500). Error messages name the offending member and
never echo the value sent.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from jsonschema import ValidationError
from jsonschema.exceptions import best_match

from gateway.api.schemas import validator
from meshkit import strict_json
from meshkit.errors import InvalidArgument

JSON_MEDIA_TYPES: Final = ("application/json",)
MERGE_PATCH_MEDIA_TYPE: Final = "application/merge-patch+json"
BODY_FIELD: Final = "body"


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


def parse_json(raw: bytes) -> Any:
    """``raw`` as strict JSON (meshkit.strict_json); 400 naming the problem otherwise."""
    try:
        return strict_json.loads(raw)
    except strict_json.JsonRefused as refused:
        raise InvalidArgument(str(refused), field=BODY_FIELD) from None


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
