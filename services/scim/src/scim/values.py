"""Checking and normalising client JSON against the schema table, into the *canonical*
resource: the resource as idmesh returns it, with canonical attribute names (``userName``,
``name.givenName``), extension attributes under their schema URN, absent values missing.

Rules, shared by POST, PUT and PATCH so every write path accepts the same dialect:

- Attribute names are case-insensitive (RFC 7643 §2.1); the canonical spelling is stored.
- ``null``, ``""``, ``[]`` and ``{}`` mean "absent" (Entra sends explicit nulls and ``$ref: null``,
  docs/scim-clients.md §4).
- Booleans also accept the strings "True"/"False" in any case, for boolean attributes only (Entra's
  default PATCH dialect sends ``"value": "False"``, docs/scim-clients.md §3).
- A complex attribute with a ``value`` sub-attribute accepts a bare string as that value (Entra
  sends the manager as ``"value": "<id>"``, docs/scim-clients.md §2 row 9).
- A single object where a list is expected is taken as a one-element list.
- Read-only sub-attributes (``manager.displayName``, ``members.display``) and ``$ref`` are dropped:
  the server computes them (RFC 7644 §3.3: read-only input SHALL be ignored).
- Any other type mismatch is 400 ``invalidValue`` naming the attribute; text the directory cannot
  hold (NUL, unpaired surrogates) too.
- Unknown attributes carrying a value are 400 ``invalidSyntax`` naming them (see
  ``normalize_resource`` for why).
"""

from __future__ import annotations

from typing import Any

from scim import schemas
from scim.errors import invalid_syntax, invalid_value
from scim.filters import parse_datetime, text_problem
from scim.schemas import (
    BINARY,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    REFERENCE,
    STRING,
    Attribute,
    Resolved,
    ResourceType,
)

Json = Any


def coerce_boolean(value: Json) -> bool | None:
    """``value`` as a boolean (true/false, or Entra's "True"/"False" strings), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def normalize_scalar(attribute: Attribute, value: Json, where: str) -> Json:
    """A simple (non-complex) value checked against ``attribute``'s type; None when absent."""
    if value is None:
        return None
    kind = attribute.type
    if kind == BOOLEAN:
        coerced = coerce_boolean(value)
        if coerced is None:
            raise invalid_value(f"'{where}' must be true or false", where)
        return coerced
    if kind in (STRING, REFERENCE, BINARY, DATETIME):
        if not isinstance(value, str):
            raise invalid_value(f"'{where}' must be a string", where)
        problem = text_problem(value)
        if problem:
            raise invalid_value(f"'{where}' {problem}", where)
        if kind == DATETIME and value and parse_datetime(value) is None:
            raise invalid_value(f"'{where}' must be an RFC 3339 date-time", where)
        return value or None
    if kind in (INTEGER, DECIMAL):  # pragma: no cover - no such attribute is served yet
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_value(f"'{where}' must be a number", where)
        if kind == INTEGER and not isinstance(value, int):
            raise invalid_value(f"'{where}' must be an integer", where)
        return value
    raise invalid_value(f"'{where}' has an unsupported type", where)  # pragma: no cover


def normalize_element(attribute: Attribute, value: Json, where: str) -> Json:
    """One value of ``attribute`` (one element when it is multi-valued); None when absent."""
    if value is None:
        return None
    if not attribute.is_complex:
        return normalize_scalar(attribute, value, where)
    if not isinstance(value, dict):
        if isinstance(value, str) and attribute.sub("value") is not None:
            # Entra's bare-string manager (docs/scim-clients.md §2 row 9, §4).
            value = {"value": value}
        else:
            raise invalid_value(f"'{where}' must be an object", where)
    out: dict[str, Json] = {}
    for key, sub_value in value.items():
        sub = attribute.sub(key)
        if sub is None:
            if sub_value is None:
                continue
            raise invalid_syntax(f"'{where}' has no sub-attribute '{key}'", where)
        if sub.read_only or sub.name == "$ref":
            continue
        normalized = normalize_scalar(sub, sub_value, f"{where}.{sub.name}")
        if normalized is not None:
            out[sub.name] = normalized
    return out or None


def normalize(attribute: Attribute, value: Json, where: str) -> Json:
    """A whole attribute value: a list for multi-valued attributes; None when absent."""
    if value is None:
        return None
    if not attribute.multi_valued:
        if isinstance(value, list):
            raise invalid_value(f"'{where}' takes a single value, not a list", where)
        return normalize_element(attribute, value, where)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        normalized = normalize_element(attribute, item, where)
        if normalized is not None:
            out.append(normalized)
    return out or None


# ---------------------------------------------------------------------------------------------
# Locations in a canonical resource


def get_value(resource: dict[str, Json], resolved: Resolved) -> Json:
    """The current value at ``resolved`` (None when absent)."""
    holder = resource if resolved.container is None else resource.get(resolved.container)
    if not isinstance(holder, dict):
        return None
    if resolved.attribute is None:
        return holder
    value = holder.get(resolved.attribute.name)
    if resolved.sub is None:
        return value
    return value.get(resolved.sub.name) if isinstance(value, dict) else None


def set_value(resource: dict[str, Json], resolved: Resolved, value: Json) -> None:
    """Sets (or, for None, removes) the value at ``resolved``, dropping emptied containers."""
    if resolved.attribute is None:
        assert resolved.container is not None
        if value is None:
            resource.pop(resolved.container, None)
        else:
            resource[resolved.container] = value
        return
    if resolved.container is None:
        holder = resource
    else:
        existing = resource.get(resolved.container)
        if not isinstance(existing, dict):
            if value is None:
                return
            existing = resource[resolved.container] = {}
        holder = existing
    name = resolved.attribute.name
    if resolved.sub is None:
        if value is None:
            holder.pop(name, None)
        else:
            holder[name] = value
    else:
        complex_value = holder.get(name)
        if not isinstance(complex_value, dict):
            if value is None:
                return
            complex_value = holder[name] = {}
        if value is None:
            complex_value.pop(resolved.sub.name, None)
            if not complex_value:
                holder.pop(name, None)
        else:
            complex_value[resolved.sub.name] = value
    if resolved.container is not None and not holder:
        resource.pop(resolved.container, None)


# ---------------------------------------------------------------------------------------------
# Request bodies (POST, PUT)


def check_schemas(resource_type: ResourceType, value: Json) -> None:
    """``schemas`` must be a list of strings naming the resource's core schema (RFC 7643 §3).
    Other URIs are ignored: Entra adds an ADSCIM URI to groups (docs/scim-clients.md §2)."""
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_syntax("'schemas' must be a list of schema URIs", "schemas")
    if value and resource_type.schema.id.lower() not in {item.lower() for item in value}:
        raise invalid_syntax(f"'schemas' must include {resource_type.schema.id}", "schemas")


def normalize_resource(resource_type: ResourceType, body: Json) -> dict[str, Json]:
    """The canonical resource for a POST or PUT body (RFC 7644 §3.3, §3.5.1).

    Read-only attributes (``id``, ``meta``, ``groups``) are ignored, as RFC 7644 §3.3 requires;
    ``password`` is type-checked and dropped, never stored (docs/scim-clients.md §4).

    Unknown attributes: RFC 7644 leaves them to the server. A request that names an attribute
    we neither store nor describe in /Schemas is answered 400 ``invalidSyntax`` naming it, so an
    IdP mapping error surfaces in the IdP's provisioning log instead of values silently vanishing;
    Entra and Okta send only attributes of the core and enterprise schemas. A ``null`` value
    carries no data and is ignored whatever its name, as is an unknown schema URN in
    ``schemas`` or as an empty object (Entra's ADSCIM group URI).
    """
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    out: dict[str, Json] = {}
    for key, value in body.items():
        if key.lower() == "schemas":
            check_schemas(resource_type, value)
            continue
        extension = resource_type.extension(key)
        if extension is not None:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid_syntax(f"'{extension.id}' must be an object", extension.id)
            for sub_key, sub_value in value.items():
                if sub_key.lower() == "schemas":
                    continue  # scim2-models and others repeat the URN inside the extension
                resolved = schemas.resolve(
                    resource_type, schemas.AttrPath(extension.id, *_split_dotted(sub_key))
                )
                _put(out, resolved, sub_value, f"{extension.id}:{sub_key}")
            continue
        resolved = schemas.resolve_text(resource_type, key)
        if resolved is None and key[:4].lower() == "urn:" and (value is None or value == {}):
            continue  # an unknown schema extension with nothing in it
        if resolved is None and key[:4].lower() == "urn:" and isinstance(value, dict):
            supported = ", ".join(e.id for e in resource_type.extensions) or "none"
            raise invalid_syntax(
                f"the schema extension '{key}' is not supported (supported: {supported})", key
            )
        _put(out, resolved, value, key)
    return out


def _split_dotted(key: str) -> tuple[str, str | None]:
    name, _, sub = key.partition(".")
    return name, sub or None


def _put(out: dict[str, Json], resolved: Resolved | None, value: Json, key: str) -> None:
    if resolved is None:
        if value is None:
            return
        raise invalid_syntax(f"unknown attribute '{key}' (see /Schemas)", key)
    attribute = resolved.attribute
    if attribute is None:  # a bare extension URN as a qualified key: handled by the caller
        raise invalid_syntax(f"'{key}' must be an object", key)
    if attribute.read_only or attribute.name == "password":
        if attribute.name == "password":
            normalize(attribute, value, "password")
        return
    if resolved.sub is not None:
        if resolved.sub.read_only or resolved.sub.name == "$ref":
            return
        set_value(out, resolved, normalize_scalar(resolved.sub, value, resolved.display))
        return
    normalized = normalize(attribute, value, resolved.display)
    if isinstance(normalized, dict):
        # "name" after "name.givenName" in the same body: merge, the later key wins.
        current = get_value(out, resolved)
        if isinstance(current, dict):
            normalized = {**current, **normalized}
    set_value(out, resolved, normalized)
