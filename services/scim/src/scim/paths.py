"""PATCH paths (RFC 7644 §3.5.2) and the in-memory evaluation of their value filters.

    PATH = attrPath / valuePath [subAttr]

``attrPath`` may be URN-qualified (``urn:…:enterprise:2.0:User:manager``) or name a whole
extension by its URN; the filter inside ``[ ]`` is parsed by filters.py, so PATCH paths and
``?filter=`` share one grammar. Paths and filters are case-insensitive in attribute names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from scim import schemas
from scim.errors import invalid_path
from scim.filters import (
    MAX_FILTER_LENGTH,
    And,
    Compare,
    Expr,
    Not,
    Or,
    ValuePath,
    invalid_filter,
    parse_datetime,
    parse_value_filter,
)
from scim.schemas import BOOLEAN, DATETIME, Attribute, Resolved, ResourceType
from scim.values import coerce_boolean

Json = Any

# A path is an attribute path and at most one value filter: the filter's own limit is enough.
MAX_PATH_LENGTH: Final = MAX_FILTER_LENGTH


@dataclass(frozen=True, slots=True)
class PatchPath:
    """A parsed PATCH path.

    ``resolved.attribute`` is the attribute (None for a whole extension), ``resolved.sub`` the
    sub-attribute (``name.givenName``, or the ``.value`` after ``emails[type eq "work"]``), and
    ``filter`` the value filter over the elements of a multi-valued attribute, if any."""

    text: str
    resolved: Resolved
    filter: Expr | None = None


def parse_path(resource_type: ResourceType, text: str) -> PatchPath:
    """Parses and resolves a PATCH path; 400 invalidPath for a malformed path or an unknown
    attribute, 400 invalidFilter for a malformed value filter."""
    text = text.strip()
    if not text:
        raise invalid_path("the path is empty")
    if len(text) > MAX_PATH_LENGTH:
        # Error messages quote the path: never echo a megabyte of it back.
        raise invalid_path(f"the path is longer than {MAX_PATH_LENGTH} characters")
    bracket = text.find("[")
    if bracket < 0:
        resolved = schemas.resolve_text(resource_type, text)
        if resolved is None:
            raise invalid_path(_unknown(text))
        return PatchPath(text, resolved)
    prefix = schemas.split_path(text[:bracket])
    if prefix is None or prefix.sub is not None:
        raise invalid_path(f"'{text[:bracket]}' before '[' must be a multi-valued attribute name")
    resolved = schemas.resolve(resource_type, prefix)
    if resolved is None or resolved.attribute is None:
        raise invalid_path(_unknown(text[:bracket]))
    attribute = resolved.attribute
    if not (attribute.multi_valued and attribute.is_complex):
        raise invalid_path(
            f"'{attribute.name}' is not multi-valued; a value filter applies to attributes such "
            "as emails or members"
        )
    expr, end = parse_value_filter(text, bracket + 1)
    check_value_filter(attribute, expr)
    rest = text[end:]
    sub: Attribute | None = None
    if rest:
        name = rest[1:] if rest.startswith(".") else ""
        sub = attribute.sub(name) if name else None
        if sub is None:
            raise invalid_path(
                f"unexpected '{rest}' after the value filter of '{text}'; expected a "
                f"sub-attribute of {attribute.name} such as .{attribute.sub_attributes[0].name}"
            )
    return PatchPath(text, Resolved(resolved.schema, attribute, sub, resolved.container), expr)


def _unknown(text: str) -> str:
    if schemas.split_path(text) is None and not text.lower().startswith("urn:"):
        return f"'{text}' is not a valid attribute path"
    return f"unknown attribute '{text}' (see /Schemas)"


def check_value_filter(attribute: Attribute, expr: Expr) -> None:
    """Every name in a value filter must be a sub-attribute of ``attribute``."""
    if isinstance(expr, And | Or):
        for item in expr.items:
            check_value_filter(attribute, item)
    elif isinstance(expr, Not):
        check_value_filter(attribute, expr.expr)
    elif isinstance(expr, ValuePath):  # pragma: no cover - the parser refuses nested value paths
        raise invalid_filter("value paths cannot be nested")
    elif (
        expr.path.uri is not None
        or expr.path.sub is not None
        or attribute.sub(expr.path.name) is None
    ):
        raise invalid_filter(f"'{attribute.name}' has no sub-attribute '{expr.path}'")


def element_matches(attribute: Attribute, element: Json, expr: Expr) -> bool:
    """Whether one element of the multi-valued ``attribute`` matches ``expr`` (RFC 7644
    §3.4.2.2 semantics; caseExact=false sub-attributes compare case-insensitively)."""
    if isinstance(expr, And):
        return all(element_matches(attribute, element, item) for item in expr.items)
    if isinstance(expr, Or):
        return any(element_matches(attribute, element, item) for item in expr.items)
    if isinstance(expr, Not):
        return not element_matches(attribute, element, expr.expr)
    if isinstance(expr, ValuePath):  # pragma: no cover - the parser refuses nested value paths
        return False
    sub = attribute.sub(expr.path.name)
    assert sub is not None, "check_value_filter ran first"
    actual = element.get(sub.name) if isinstance(element, dict) else None
    return _compare(sub, actual, expr.op, expr.value)


def _compare(sub: Attribute, actual: Json, op: str, expected: Json) -> bool:
    if op == "pr":
        return actual not in (None, "", [], {})
    if expected is None:
        return bool((actual is None) == (op == "eq")) if op in ("eq", "ne") else False
    if sub.type == BOOLEAN:
        want = coerce_boolean(expected)
        have = bool(actual)
        if want is None or op not in ("eq", "ne"):
            return False
        return (have == want) == (op == "eq")
    if actual is None:
        return op == "ne"
    if sub.type == DATETIME:
        moment = parse_datetime(actual) if isinstance(actual, str) else None
        reference = parse_datetime(expected) if isinstance(expected, str) else None
        if moment is None or reference is None:
            return False
        return _ordered(op, moment, reference)
    if not isinstance(actual, str) or not isinstance(expected, str):
        return bool((actual == expected) == (op == "eq")) if op in ("eq", "ne") else False
    left: str = actual if sub.case_exact else actual.casefold()
    right: str = expected if sub.case_exact else expected.casefold()
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return _ordered(op, left, right)


def _ordered(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    if op == "le":
        return bool(left <= right)
    return False


def eq_assignments(attribute: Attribute, expr: Expr) -> dict[str, Json] | None:
    """For a filter that is ``eq`` comparisons joined by ``and`` (``type eq "work"``), the
    sub-attribute values an element must have to match it; None for any other filter.

    Lets add/replace on ``emails[type eq "work"].value`` create the element when none matches:
    Entra sends such paths for attributes the user did not have yet (docs/scim-clients.md
    §2 row 8)."""
    if isinstance(expr, Compare):
        if expr.op != "eq" or expr.value is None:
            return None
        sub = attribute.sub(expr.path.name)
        if sub is None:
            return None
        value: Json = expr.value
        if sub.type == BOOLEAN:
            value = coerce_boolean(value)
            if value is None:
                return None
        elif not isinstance(value, str):
            return None
        return {sub.name: value}
    if isinstance(expr, And):
        merged: dict[str, Json] = {}
        for item in expr.items:
            part = eq_assignments(attribute, item)
            if part is None:
                return None
            for key, value in part.items():
                if key in merged and merged[key] != value:
                    return None
                merged[key] = value
        return merged
    return None
