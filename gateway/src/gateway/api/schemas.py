"""JSON Schemas of the admin API (OpenAPI 3.1 uses JSON Schema 2020-12), defined once.

Each resource module defines its request and response schemas here with ``define`` when it is
imported; the OpenAPI document publishes them under ``#/components/schemas`` and the request
bodies are validated against the very same schemas (``validator``), so the document cannot
promise a shape the gateway does not enforce.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker

Schema = dict[str, Any]

_COMPONENTS: dict[str, Schema] = {}
REF_PREFIX: Final = "#/components/schemas/"

# Lengths that keep a value within what the directory stores and indexes (a b-tree index entry
# holds at most ~2.7 kB): longer input is refused here as 400, never a database error.
NAME_LENGTH: Final = 256
TEXT_LENGTH: Final = 2048


def define(name: str, schema: Schema) -> Schema:
    """Registers component ``name``; returns a ``$ref`` to it. A name is defined once."""
    if name in _COMPONENTS:
        raise ValueError(f"schema {name!r} is defined twice")
    _COMPONENTS[name] = schema
    return ref(name)


def ref(name: str) -> Schema:
    return {"$ref": REF_PREFIX + name}


def components() -> Mapping[str, Schema]:
    """Every defined schema, by name."""
    return dict(_COMPONENTS)


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator of component ``name`` that resolves ``$ref`` to the other components and
    checks the ``uuid`` format."""
    if name not in _COMPONENTS:
        raise KeyError(f"no schema named {name!r}")
    root = {"$ref": REF_PREFIX + name, "components": {"schemas": _COMPONENTS}}
    return Draft202012Validator(root, format_checker=FormatChecker(formats=("uuid",)))


# -- shared pieces ---------------------------------------------------------------------------


def string(max_length: int = NAME_LENGTH, *, nullable: bool = False, **extra: Any) -> Schema:
    """A string of at most ``max_length`` characters (or null when ``nullable``)."""
    return {"type": ["string", "null"] if nullable else "string", "maxLength": max_length, **extra}


def required_string(max_length: int = NAME_LENGTH, **extra: Any) -> Schema:
    """A string with at least one character that is not whitespace."""
    return string(max_length, pattern=r"\S", **extra)


def obj(
    properties: Mapping[str, Schema], *, required: tuple[str, ...] = (), **extra: Any
) -> Schema:
    """An object with these properties; request schemas pass ``additionalProperties=False``."""
    schema: Schema = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


ID = {"type": "string", "format": "uuid", "description": "A UUID."}
TIMESTAMP = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC."}
NULLABLE_TIMESTAMP = {**TIMESTAMP, "type": ["string", "null"]}
VERSION = {
    "type": "integer",
    "minimum": 1,
    "description": "Increases with every change; the ETag of the resource is this number quoted.",
}
SOURCES = ("sso", "scim", "group", "manual")
SOURCE = {
    "type": "string",
    "enum": list(SOURCES),
    "description": "Where a grant or a group membership comes from.",
}

PROBLEM = define(
    "Problem",
    obj(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "trace_id": {"type": "string"},
            "errors": array(
                obj(
                    {"field": {"type": "string"}, "detail": {"type": "string"}},
                    required=("field", "detail"),
                )
            ),
        },
        required=("type", "title", "status", "detail"),
        description="An RFC 9457 problem details object.",
    ),
)


def page_of(name: str, item: Schema) -> Schema:
    """Component ``name``: one page of a list, ``{"items": [...], "next_page_token": ...}``."""
    return define(
        name,
        obj(
            {
                "items": array(item),
                "next_page_token": {
                    "type": ["string", "null"],
                    "description": "Pass as page_token for the next page; null on the last.",
                },
            },
            required=("items", "next_page_token"),
        ),
    )
