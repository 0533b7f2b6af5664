"""POST /.search at the root (RFC 7644 §3.4.3): one search across every resource type.

The results are the Users that match, then the Groups, each in its own stable order, paged by
``startIndex``/``count`` over that concatenation; ``totalResults`` is the sum. A filter is applied
to each resource type; a type whose schema lacks an attribute the filter names contributes
nothing (RFC 7644 §3.4.2.2: the filter "MAY" name attributes of several resource types), and a
filter that no resource type can evaluate is 400 invalidFilter. ``attributes`` and
``excludedAttributes`` apply per type, names unknown to a type being ignored (projection.py).
Sorting across resource types would need one order over unlike attributes: ``sortBy`` here is
400 invalidValue, pointing at /Users/.search and /Groups/.search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from meshkit.errors import InvalidArgument
from scim import query
from scim.errors import INVALID_FILTER, invalid_value
from scim.exchange import ScimRequest, ScimResponse, json_response
from scim.schemas import ResourceType

Json = Any


class Pager(Protocol):
    async def page(
        self, request: ScimRequest, list_query: query.ListQuery
    ) -> tuple[int, list[dict[str, Json]]]: ...


async def search_all(
    request: ScimRequest, handlers: Sequence[tuple[ResourceType, Pager]]
) -> ScimResponse:
    """The ListResponse of a root search over ``handlers`` (in that order)."""
    body = request.json()
    if isinstance(body, dict) and any(k.lower() == "sortby" for k in body):
        raise invalid_value(
            "sortBy is not supported when searching across resource types; search "
            "/Users/.search or /Groups/.search instead",
            "sortBy",
        )
    queries: list[tuple[Pager, query.ListQuery]] = []
    first_error: InvalidArgument | None = None
    for resource_type, handler in handlers:
        try:
            queries.append((handler, query.from_search(resource_type, body)))
        except InvalidArgument as error:
            if error.reason != INVALID_FILTER:
                raise
            first_error = first_error or error
    if not queries:
        assert first_error is not None
        raise first_error
    first = queries[0][1]
    offset, remaining = first.start_index - 1, first.count
    total = 0
    resources: list[dict[str, Json]] = []
    for handler, list_query in queries:
        if remaining > 0:
            part = dataclasses.replace(list_query, start_index=offset + 1, count=remaining)
        else:
            part = dataclasses.replace(list_query, start_index=1, count=0)
        part_total, found = await handler.page(request, part)
        found = found[:remaining] if remaining > 0 else []
        resources += found
        remaining -= len(found)
        offset = max(offset - part_total, 0)
        total += part_total
    return json_response(200, query.list_response(first, total, resources))
