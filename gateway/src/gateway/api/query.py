"""Query parameters of the admin API: declared once, parsed strictly, turned into the
directory's structured Filter and PageRequest, and documented from the same declaration.

A filter parameter names the directory attribute it compares (``?status=active`` becomes the
comparison ``status eq "active"``); several parameters are AND-ed. Values travel as typed
FilterValues, never as text spliced into a query. Unknown or repeated parameters are 400, so a
misspelt filter (``?stauts=active``) never silently lists everything; endpoints that take no
parameter ignore the query string.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from google.protobuf import timestamp_pb2
from multidict import MultiMapping

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument

Value = str | bool | int | datetime
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
# The request line is at most 8190 bytes (aiohttp's limit, answered 400 before any handler),
# and a character may take 12 bytes percent-encoded: text values are bounded so that every
# documented combination of parameters fits.
TEXT_CHARS = 128
_TOKEN_CHARS = 512


class Kind(enum.Enum):
    STRING = "string"
    UUID = "uuid"
    ENUM = "enum"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    INTEGER = "integer"


@dataclass(frozen=True)
class Param:
    """One query parameter. With ``attribute`` it is a filter on that directory attribute
    (``operator`` applied to the value); without, the endpoint reads it itself."""

    name: str
    description: str
    kind: Kind = Kind.STRING
    values: tuple[str, ...] = ()
    attribute: str = ""
    operator: pb.Operator.ValueType = pb.OPERATOR_EQUAL
    minimum: int = 0
    maximum: int = 0
    max_length: int = TEXT_CHARS
    pattern: str = ""

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema in the OpenAPI document."""
        if self.kind is Kind.UUID:
            return {"type": "string", "format": "uuid"}
        if self.kind is Kind.ENUM:
            return {"type": "string", "enum": list(self.values)}
        if self.kind is Kind.BOOL:
            return {"type": "boolean"}
        if self.kind is Kind.TIMESTAMP:
            return {"type": "string", "format": "date-time"}
        if self.kind is Kind.INTEGER:
            return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": self.max_length}
        if self.pattern:
            schema["pattern"] = self.pattern
        return schema

    def parse(self, raw: str) -> Value:
        """The typed value of ``raw``; InvalidArgument naming the parameter otherwise."""
        if not raw or "\x00" in raw:
            raise self._invalid("must be a non-empty value without NUL characters")
        if len(raw) > self.max_length:
            raise self._invalid(f"must be at most {self.max_length} characters")
        if self.pattern and re.fullmatch(self.pattern, raw) is None:
            raise self._invalid("is malformed")
        if self.kind is Kind.UUID:
            try:
                return str(uuid.UUID(raw))
            except ValueError:
                raise self._invalid("must be a UUID") from None
        if self.kind is Kind.ENUM:
            if raw not in self.values:
                raise self._invalid(f"must be one of {', '.join(self.values)}")
            return raw
        if self.kind is Kind.BOOL:
            if raw not in ("true", "false"):
                raise self._invalid("must be true or false")
            return raw == "true"
        if self.kind is Kind.TIMESTAMP:
            return self._timestamp(raw)
        if self.kind is Kind.INTEGER:
            if not (raw.isascii() and raw.isdigit()) or not (
                self.minimum <= int(raw) <= self.maximum
            ):
                raise self._invalid(f"must be an integer from {self.minimum} to {self.maximum}")
            return int(raw)
        return raw

    def _timestamp(self, raw: str) -> datetime:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise self._invalid("must be an RFC 3339 time, e.g. 2026-01-31T09:00:00Z") from None
        if moment.tzinfo is None:
            raise self._invalid("must name its time zone, e.g. 2026-01-31T09:00:00Z")
        return moment

    def _invalid(self, message: str) -> InvalidArgument:
        return InvalidArgument(message, field=self.name)

    def comparison(self, value: Value) -> pb.Filter:
        """The directory comparison of this filter parameter with ``value``."""
        if isinstance(value, bool):
            filter_value = pb.FilterValue(bool_value=value)
        elif isinstance(value, datetime):
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(value)
            filter_value = pb.FilterValue(timestamp_value=stamp)
        else:
            filter_value = pb.FilterValue(string_value=str(value))
        return pb.Filter(
            comparison=pb.Comparison(
                attribute=self.attribute, operator=self.operator, value=filter_value
            )
        )


PAGE_SIZE = Param(
    "page_size",
    f"How many items a page holds at most (default {DEFAULT_PAGE_SIZE}).",
    Kind.INTEGER,
    minimum=1,
    maximum=MAX_PAGE_SIZE,
)
PAGE_TOKEN = Param(
    "page_token",
    "The next_page_token of the previous page; absent for the first page.",
    max_length=_TOKEN_CHARS,
    pattern=r"^[A-Za-z0-9_-]+$",
)


@dataclass(frozen=True)
class Query:
    """The query parameters an endpoint accepts; ``paged`` adds page_size and page_token."""

    params: tuple[Param, ...] = ()
    paged: bool = False

    @property
    def all_params(self) -> tuple[Param, ...]:
        return (*self.params, PAGE_SIZE, PAGE_TOKEN) if self.paged else self.params

    def parse(self, query: MultiMapping[str]) -> QueryValues:
        """Parses ``query``; unknown and repeated parameters are 400. An endpoint that takes no
        parameter at all ignores the query string (nothing in it could be misread)."""
        declared = {param.name: param for param in self.all_params}
        values: dict[str, Value] = {}
        if not declared:
            return QueryValues(self, values)
        for name in query:
            param = declared.get(name)
            if param is None:
                shown = name if len(name) <= 64 and name.isprintable() else "a parameter"
                accepted = ", ".join(declared) or "none"
                raise InvalidArgument(f"unknown query parameter; accepted: {accepted}", field=shown)
            raw = query.getall(name)
            if len(raw) > 1:
                raise InvalidArgument("give this parameter once", field=name)
            values[name] = param.parse(raw[0])
        return QueryValues(self, values)


NO_QUERY = Query()


def filters(*params: Param) -> Query:
    """A paged list query with these filter parameters."""
    return Query(params, paged=True)


@dataclass(frozen=True)
class QueryValues:
    query: Query
    values: Mapping[str, Value]

    def get(self, name: str) -> Value | None:
        return self.values.get(name)

    def text(self, name: str) -> str:
        """A string parameter's value, or "" when absent."""
        value = self.values.get(name)
        return value if isinstance(value, str) else ""

    def filter(self, *extra: pb.Filter) -> pb.Filter | None:
        """The AND of the given filter parameters and ``extra``; None when there is none."""
        parts = [
            param.comparison(self.values[param.name])
            for param in self.query.params
            if param.attribute and param.name in self.values
        ]
        parts.extend(extra)
        return all_of(parts)

    def page(self, *, order_by: str = "", descending: bool = False) -> pb.PageRequest:
        size = self.values.get("page_size", DEFAULT_PAGE_SIZE)
        assert isinstance(size, int)
        return pb.PageRequest(
            page_size=size,
            page_token=self.text("page_token"),
            order_by=order_by,
            sort_order=pb.SORT_ORDER_DESCENDING if descending else pb.SORT_ORDER_UNSPECIFIED,
        )


def eq(attribute: str, value: str) -> pb.Filter:
    """``attribute eq "value"``."""
    return pb.Filter(
        comparison=pb.Comparison(
            attribute=attribute,
            operator=pb.OPERATOR_EQUAL,
            value=pb.FilterValue(string_value=value),
        )
    )


def all_of(parts: Sequence[pb.Filter]) -> pb.Filter | None:
    """One filter matching all ``parts``: None for none, the part itself for one."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    combined = pb.Filter()
    getattr(combined, "and").filters.extend(parts)  # "and" is a Python keyword
    return combined


def any_of(parts: Sequence[pb.Filter]) -> pb.Filter:
    combined = pb.Filter()
    getattr(combined, "or").filters.extend(parts)
    return combined


def list_response(items: Sequence[Mapping[str, Any]], next_page_token: str) -> web.Response:
    """A page of a list: ``{"items": [...], "next_page_token": "..." | null}``."""
    return web.json_response({"items": list(items), "next_page_token": next_page_token or None})
