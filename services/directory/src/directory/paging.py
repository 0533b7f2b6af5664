"""Pagination of the list RPCs (PageRequest): keyset tokens or SCIM offsets, always stable.

Every order ends with the catalogue's unique key, so rows never swap places between pages. A
page token is the keyset position after the last row returned (its sort value and key), bound to
the order and the filter it was made for; it is opaque to callers (base64 of JSON) and validated
like any other input: garbage is INVALID_ARGUMENT on ``page.page_token``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from directory.filters import CASTS, Catalogue, Kind, Params
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# The name under which a listing selects the sort expression, read back to build the token.
SORT_COLUMN = "page_sort"
_TOKEN_VERSION = 1


@dataclass(frozen=True)
class Window:
    """One page, validated: which rows (order, position) and how many."""

    order: str
    descending: bool
    size: int
    offset: int
    # The keyset position: the sort value and key values of the last row of the previous page.
    after: tuple[Any, ...] | None
    include_total: bool
    # Binds tokens to the filter they were issued for.
    filter_digest: str


@dataclass(frozen=True)
class Page:
    rows: list[asyncpg.Record]
    next_page_token: str
    total: int


def filter_digest(filter_: pb.Filter | None) -> str:
    data = filter_.SerializeToString(deterministic=True) if filter_ is not None else b""
    return hashlib.sha256(data).hexdigest()[:16]


def window(page: pb.PageRequest, catalogue: Catalogue, digest: str) -> Window:
    """Validates ``page`` against ``catalogue``: size (default 100, capped at 1000), order_by
    (a sortable attribute), and either a page token or an offset, never both."""
    if page.page_size < 0:
        raise InvalidArgument("page_size must not be negative", field="page.page_size")
    if page.offset < 0:
        raise InvalidArgument("offset must not be negative", field="page.offset")
    if page.page_token and page.offset:
        raise InvalidArgument("give a page_token or an offset, not both", field="page")
    order = page.order_by or catalogue.default_order
    attribute = catalogue.attributes.get(order)
    if attribute is None or not attribute.sortable:
        raise InvalidArgument(f"cannot order by '{order}'", field="page.order_by")
    descending = page.sort_order == pb.SORT_ORDER_DESCENDING
    size = min(page.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = None
    if page.page_token:
        after = _decode(page.page_token, catalogue, order, descending, digest)
    return Window(order, descending, size, page.offset, after, page.include_total, digest)


@dataclass(frozen=True)
class PageSql:
    """The pieces a listing query needs: ``SELECT ..., {sort} AS page_sort ... WHERE ...
    {condition} ORDER BY {order_by} {limit}``."""

    sort: str
    condition: str
    order_by: str
    limit: str


def page_sql(window: Window, catalogue: Catalogue, params: Params) -> PageSql:
    sort_attribute = catalogue.attributes[window.order]
    key_attributes = [catalogue.attributes[name] for name in catalogue.key]
    sort = sort_attribute.comparable()
    columns = [sort, *(a.sql for a in key_attributes)]
    direction = "DESC" if window.descending else "ASC"
    condition = ""
    if window.after is not None:
        kinds = [sort_attribute.kind, *(a.kind for a in key_attributes)]
        placeholders = [params.add(v, CASTS[k]) for v, k in zip(window.after, kinds, strict=True)]
        comparison = "<" if window.descending else ">"
        condition = f"({', '.join(columns)}) {comparison} ({', '.join(placeholders)})"
    order_by = ", ".join(f"{c} {direction}" for c in columns)
    # One row more than asked: whether it exists says whether there is a next page.
    limit = f"LIMIT {params.add(window.size + 1, 'bigint')}"
    if window.offset:
        limit += f" OFFSET {params.add(window.offset, 'bigint')}"
    return PageSql(sort, condition, order_by, limit)


def proven_total(rows: Sequence[asyncpg.Record], window: Window) -> int | None:
    """The total a page proves by itself, so no count(*) is needed: a page that is not full ends
    the result, and without a keyset position it holds every row after ``offset``. (An empty
    page past the end proves nothing: the result may be shorter than the offset.) This is the
    common case of SCIM's match queries (``userName eq``, 0 or 1 row)."""
    if window.after is not None or len(rows) > window.size:
        return None
    if not rows and window.offset > 0:
        return None
    return window.offset + len(rows)


def finish(
    rows: Sequence[asyncpg.Record], window: Window, catalogue: Catalogue, total: int
) -> Page:
    """The page of ``rows`` (fetched with one row more than the page size) and its next token."""
    if len(rows) <= window.size:
        return Page(list(rows), "", total)
    page = list(rows[: window.size])
    last = page[-1]
    values = [last[SORT_COLUMN], *(last[name] for name in catalogue.key)]
    return Page(page, _encode(window, values), total)


def _encode(window: Window, values: Sequence[Any]) -> str:
    body = {
        "v": _TOKEN_VERSION,
        "o": window.order,
        "d": window.descending,
        "f": window.filter_digest,
        "k": [_to_json(v) for v in values],
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | str):
        return value
    return str(value)  # UUIDs


def _bad_token(message: str = "malformed page token") -> InvalidArgument:
    return InvalidArgument(message, field="page.page_token", reason="invalid_page_token")


def _decode(
    token: str, catalogue: Catalogue, order: str, descending: bool, digest: str
) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise _bad_token() from error
    if not isinstance(body, dict) or body.get("v") != _TOKEN_VERSION:
        raise _bad_token()
    if body.get("o") != order or body.get("d") != descending or body.get("f") != digest:
        raise _bad_token("the page token was issued for another order or filter")
    values = body.get("k")
    kinds = [
        catalogue.attributes[order].kind,
        *(catalogue.attributes[k].kind for k in catalogue.key),
    ]
    if not isinstance(values, list) or len(values) != len(kinds):
        raise _bad_token()
    return tuple(_from_json(value, kind) for value, kind in zip(values, kinds, strict=True))


def _from_json(value: Any, kind: Kind) -> Any:
    if kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise _bad_token()
        return value
    if not isinstance(value, str):
        raise _bad_token()
    try:
        if kind is Kind.UUID:
            return UUID(value)
        if kind is Kind.TIMESTAMP:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise _bad_token()
            return moment
    except ValueError as error:
        raise _bad_token() from error
    return value
