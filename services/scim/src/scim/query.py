"""List and search parameters (RFC 7644 §3.4.2, §3.4.3): filter, startIndex/count, sortBy and
sortOrder, attributes/excludedAttributes, from a query string or a SearchRequest body.

- ``startIndex`` is 1-based; below 1 means 1 (§3.4.2.4).
- ``count`` below 0 means 0; above MAX_RESULTS means MAX_RESULTS; absent means MAX_RESULTS.
  ``count=0`` asks for ``totalResults`` only.
- Both must be integers: anything else is 400 invalidValue (clients must get integer counts and a
  stable order across pages, docs/scim-clients.md §1).
- ``sortBy`` names a singular attribute the directory can sort on (400 invalidValue otherwise);
  ``sortOrder`` is "ascending" (default) or "descending". Without ``sortBy`` the order is the
  directory's creation order, which is stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from idmesh.directory.v1 import directory_pb2 as pb
from scim import schemas
from scim.discovery import MAX_RESULTS
from scim.errors import invalid_syntax, invalid_value
from scim.filters import compile_filter
from scim.projection import Projection, split_names
from scim.schemas import LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA, ResourceType

Json = Any

_PARAMETERS: Final = {
    "filter": "filter",
    "startindex": "startIndex",
    "count": "count",
    "sortby": "sortBy",
    "sortorder": "sortOrder",
    "attributes": "attributes",
    "excludedattributes": "excludedAttributes",
}


@dataclass(frozen=True)
class ListQuery:
    """A list request, ready for the directory: ``filter`` is None for "everything"."""

    filter: pb.Filter | None
    start_index: int
    count: int
    order_by: str
    sort_order: pb.SortOrder.ValueType
    projection: Projection

    def page(self) -> pb.PageRequest:
        """The directory page: offset = startIndex - 1, with the total counted. For count=0 one
        row is asked for (page_size 0 means the directory's default) and the caller returns
        none of it."""
        return pb.PageRequest(
            page_size=max(self.count, 1),
            offset=self.start_index - 1,
            order_by=self.order_by,
            sort_order=self.sort_order,
            include_total=True,
        )


def _integer(name: str, value: Json) -> int:
    if isinstance(value, bool):
        raise invalid_value(f"'{name}' must be an integer", name)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            return int(text)
    raise invalid_value(f"'{name}' must be an integer, got {json_repr(value)}", name)


def json_repr(value: Json) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _order_by(resource_type: ResourceType, sort_by: str) -> str:
    resolved = schemas.resolve_text(resource_type, sort_by)
    if resolved is None or resolved.attribute is None:
        raise invalid_value(f"sortBy: unknown attribute '{sort_by}'", "sortBy")
    target = resolved.sub or resolved.attribute
    value = target.sub("value") if target.is_complex and not target.multi_valued else None
    if value is not None:
        target = value  # the manager sorts by its id
    if (
        resolved.attribute.multi_valued
        or target.is_complex
        or target.directory is None
        or target.directory not in resource_type.filterable
    ):
        raise invalid_value(f"sortBy: '{resolved.display}' is not sortable", "sortBy")
    return target.directory


def build(resource_type: ResourceType, values: dict[str, Json]) -> ListQuery:
    """A ListQuery from canonical parameter names (see _PARAMETERS) to their values."""
    filter_text = values.get("filter")
    directory_filter = None
    if filter_text is not None:
        if not isinstance(filter_text, str):
            raise invalid_value("'filter' must be a string", "filter")
        if filter_text.strip():
            directory_filter = compile_filter(filter_text, resource_type)
    start_index = 1
    if values.get("startIndex") is not None:
        start_index = max(_integer("startIndex", values["startIndex"]), 1)
    count = MAX_RESULTS
    if values.get("count") is not None:
        count = min(max(_integer("count", values["count"]), 0), MAX_RESULTS)
    order_by = ""
    sort_order = pb.SORT_ORDER_ASCENDING
    sort_by = values.get("sortBy")
    if sort_by is not None and not isinstance(sort_by, str):
        raise invalid_value("'sortBy' must be a string", "sortBy")
    if sort_by:
        order_by = _order_by(resource_type, sort_by.strip())
        order = values.get("sortOrder")
        if order is not None:
            if not isinstance(order, str) or order.lower() not in ("ascending", "descending"):
                raise invalid_value("'sortOrder' must be ascending or descending", "sortOrder")
            if order.lower() == "descending":
                sort_order = pb.SORT_ORDER_DESCENDING
    projection = Projection.parse(
        resource_type,
        _names("attributes", values.get("attributes")),
        _names("excludedAttributes", values.get("excludedAttributes")),
    )
    return ListQuery(directory_filter, start_index, count, order_by, sort_order, projection)


def _names(name: str, value: Json) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_names(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise invalid_value(f"'{name}' must be a list of attribute names", name)


def canonical_parameters(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters by their canonical name (matched case-insensitively); the last of a
    repeated parameter wins; unknown parameters are ignored (Entra appends aadOptscim062020)."""
    values: dict[str, str] = {}
    for name, value in pairs:
        canonical = _PARAMETERS.get(name.lower())
        if canonical is not None:
            values[canonical] = value
    return values


def from_query(resource_type: ResourceType, pairs: Iterable[tuple[str, str]]) -> ListQuery:
    """A ListQuery from the query string of GET /Users or /Groups (RFC 7644 §3.4.2)."""
    return build(resource_type, canonical_parameters(pairs))


def from_search(resource_type: ResourceType, body: Json) -> ListQuery:
    """A ListQuery from a POST /.search SearchRequest body (RFC 7644 §3.4.3)."""
    if not isinstance(body, dict):
        raise invalid_syntax("the search request must be a JSON object")
    values: dict[str, Json] = {}
    for key, value in body.items():
        if key.lower() == "schemas":
            if not (
                isinstance(value, list)
                and all(isinstance(v, str) for v in value)
                and SEARCH_REQUEST_SCHEMA.lower() in {v.lower() for v in value}
            ):
                raise invalid_syntax(f"'schemas' must include {SEARCH_REQUEST_SCHEMA}", "schemas")
            continue
        canonical = _PARAMETERS.get(key.lower())
        if canonical is None:
            raise invalid_syntax(f"unknown search parameter '{key}'", key)
        values[canonical] = value
    return build(resource_type, values)


def projection_from_query(
    resource_type: ResourceType, pairs: Iterable[tuple[str, str]]
) -> Projection:
    """The attributes/excludedAttributes of a single-resource request (RFC 7644 §3.9)."""
    values = canonical_parameters(pairs)
    return Projection.parse(
        resource_type,
        _names("attributes", values.get("attributes")),
        _names("excludedAttributes", values.get("excludedAttributes")),
    )


def list_response(
    list_query: ListQuery, total: int, resources: list[dict[str, Json]]
) -> dict[str, Json]:
    """A ListResponse page (RFC 7644 §3.4.2): integer counts, the 1-based startIndex asked for,
    no resources for count=0."""
    shown = resources if list_query.count else []
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": int(total),
        "startIndex": list_query.start_index,
        "itemsPerPage": len(shown),
        "Resources": shown,
    }
