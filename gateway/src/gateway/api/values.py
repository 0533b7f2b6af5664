"""Small conversions shared by the resource modules: times, enum names, JSON responses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, Final, TypeVar

from aiohttp import web
from google.protobuf import timestamp_pb2

from gateway.api.preconditions import etag
from idmesh.directory.v1 import directory_pb2 as pb

K = TypeVar("K")

SOURCE_NAMES: Final[Mapping[pb.MembershipSource.ValueType, str]] = {
    pb.MEMBERSHIP_SOURCE_SSO: "sso",
    pb.MEMBERSHIP_SOURCE_SCIM: "scim",
    pb.MEMBERSHIP_SOURCE_GROUP: "group",
    pb.MEMBERSHIP_SOURCE_MANUAL: "manual",
}
SOURCE_VALUES: Final = {name: value for value, name in SOURCE_NAMES.items()}


def timestamp(value: timestamp_pb2.Timestamp) -> str | None:
    """RFC 3339 in UTC with a ``Z`` (``2026-01-31T09:00:00.123456Z``); None when unset."""
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def enum_name(names: Mapping[K, str], value: K) -> str:
    """The API's name of an enum value; "unspecified" for one it does not know."""
    return names.get(value, "unspecified")


def json_response(
    body: Mapping[str, Any],
    *,
    status: int = 200,
    version: int | None = None,
    location: str | None = None,
) -> web.Response:
    """A JSON response, with the resource's ETag when ``version`` is given (RFC 9110 §8.8.3)
    and a Location for a created resource."""
    response = web.json_response(dict(body), status=status)
    if version is not None:
        response.headers["ETag"] = etag(version)
    if location is not None:
        response.headers["Location"] = location
    return response


def no_content() -> web.Response:
    return web.Response(status=204)
