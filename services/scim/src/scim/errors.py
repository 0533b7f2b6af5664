"""SCIM error responses (RFC 7644 §3.12) and the mapping from the mesh's ServiceError tree.

Inside the scim service every failure is a ServiceError: InvalidArgument carries a ``reason`` that
names the SCIM ``scimType`` (``invalid_filter`` → ``invalidFilter``), errors raised by the directory
arrive through meshkit.errors.from_rpc_error, and the few failures that only exist in HTTP (405,
413, 415, an unknown endpoint) are ScimHttpError. ``to_scim_error`` turns any of them into the
status, scimType and detail of the error body; the servicer renders it as a successful
HandleRequest, because for the gateway a SCIM error is a response to relay, not an RPC failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import grpc

from meshkit.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
)
from meshkit.telemetry import current_trace_id
from scim.schemas import ERROR_SCHEMA

# ServiceError.reason values raised by this service; each is one RFC 7644 §3.12 scimType.
INVALID_FILTER: Final = "invalid_filter"
TOO_MANY: Final = "too_many"
UNIQUENESS: Final = "uniqueness"
MUTABILITY: Final = "mutability"
INVALID_SYNTAX: Final = "invalid_syntax"
INVALID_PATH: Final = "invalid_path"
NO_TARGET: Final = "no_target"
INVALID_VALUE: Final = "invalid_value"
INVALID_VERSION: Final = "invalid_version"
SENSITIVE: Final = "sensitive"
# The directory's reason for an expected_version that is not the stored one.
VERSION_MISMATCH: Final = "version_mismatch"

_SCIM_TYPES: Final = {
    INVALID_FILTER: "invalidFilter",
    TOO_MANY: "tooMany",
    UNIQUENESS: "uniqueness",
    MUTABILITY: "mutability",
    INVALID_SYNTAX: "invalidSyntax",
    INVALID_PATH: "invalidPath",
    NO_TARGET: "noTarget",
    INVALID_VALUE: "invalidValue",
    INVALID_VERSION: "invalidVers",
    SENSITIVE: "sensitive",
}


class ScimHttpError(ServiceError):
    """A failure that exists only in HTTP terms (405, 413, 415, 404 for an unknown endpoint,
    412 for an If-Match mismatch, 501), with its status and optional scimType."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, status: int, message: str, *, scim_type: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.scim_type = scim_type


def invalid_value(message: str, field: str = "") -> InvalidArgument:
    return InvalidArgument(message, field=field, reason=INVALID_VALUE)


def invalid_syntax(message: str, field: str = "") -> InvalidArgument:
    return InvalidArgument(message, field=field, reason=INVALID_SYNTAX)


def invalid_path(message: str, field: str = "path") -> InvalidArgument:
    return InvalidArgument(message, field=field, reason=INVALID_PATH)


def no_target(message: str, field: str = "path") -> InvalidArgument:
    return InvalidArgument(message, field=field, reason=NO_TARGET)


def mutability(message: str, field: str = "") -> InvalidArgument:
    return InvalidArgument(message, field=field, reason=MUTABILITY)


def precondition_failed(message: str) -> ScimHttpError:
    """412: the If-Match ETag is not the resource's current version (RFC 7644 §3.14)."""
    return ScimHttpError(412, message)


def with_trace_id(detail: str, trace_id: str | None = None) -> str:
    """``detail`` followed by `` (trace_id <32 hex digits>)``, for the current trace unless
    ``trace_id`` is given; unchanged outside a trace."""
    trace_id = current_trace_id() if trace_id is None else trace_id
    return f"{detail} (trace_id {trace_id})" if trace_id else detail


@dataclass(frozen=True, slots=True)
class ScimErrorBody:
    status: int
    detail: str
    scim_type: str = ""

    def render(self) -> bytes:
        """The RFC 7644 §3.12 body; ``status`` is a string, as the RFC's examples and Okta's
        test suite require (docs/scim-clients.md §5). ``detail`` ends with the request's trace
        id, as every error body of idmesh carries it (to find its spans and log lines): inside
        ``detail`` because the Error schema has no other member for it, and strict clients
        (scim2-tester) refuse members the schema does not define."""
        body: dict[str, object] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = with_trace_id(self.detail)
        return json.dumps(body, ensure_ascii=False).encode()


# Directory request fields as the SCIM attribute a client wrote, so a directory refusal reads in
# the client's terms (Entra wants "400 with an actionable detail", docs/scim-clients.md §2).
DIRECTORY_FIELDS: Final = {
    "user.user_name": "userName",
    "user.timezone": "timezone",
    "user.enterprise.manager_id": "manager",
    "user.account_role_id": "roles",
    "group.display_name": "displayName",
    "group.idp_identifier": "externalId",
    "group.members": "members",
    "add_user_ids": "members",
    "remove_user_ids": "members",
}


def _detail(error: ServiceError) -> str:
    attribute = DIRECTORY_FIELDS.get(error.field)
    return f"{attribute}: {error.message}" if attribute else error.message


_BY_CODE: Final = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.ABORTED: 409,
}


def to_scim_error(error: ServiceError) -> ScimErrorBody:
    """The SCIM error for ``error`` (RFC 7644 §3.12):

    - InvalidArgument → 400 with the scimType its reason names (invalidValue when it names none,
      e.g. the directory refusing an unknown member id);
    - AlreadyExists → 409 uniqueness; NotFound → 404;
    - FailedPrecondition version_mismatch → 412 (RFC 7644 §3.14), otherwise 400;
    - Unauthenticated 401, PermissionDenied 403, ResourceExhausted 429, Unavailable 503;
    - anything else → 500 "internal error" (no peer message is echoed).
    """
    if isinstance(error, ScimHttpError):
        return ScimErrorBody(error.status, error.message, error.scim_type)
    if isinstance(error, InvalidArgument):
        return ScimErrorBody(400, _detail(error), _SCIM_TYPES.get(error.reason, "invalidValue"))
    if isinstance(error, AlreadyExists):
        return ScimErrorBody(409, _detail(error), "uniqueness")
    if isinstance(error, FailedPrecondition):
        if error.reason == VERSION_MISMATCH:
            return ScimErrorBody(412, error.message or "the resource has changed")
        return ScimErrorBody(400, error.message)
    if isinstance(error, NotFound):
        return ScimErrorBody(404, error.message or "not found")
    if isinstance(error, Unauthenticated | PermissionDenied | ResourceExhausted | Unavailable):
        return ScimErrorBody(_BY_CODE[error.code], error.message)
    status = _BY_CODE.get(error.code, 500)
    if status == 500:
        return ScimErrorBody(500, "internal error")
    return ScimErrorBody(status, error.message)
