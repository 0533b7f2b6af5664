"""The one error tree of the mesh.

Services raise these; one server interceptor (meshkit.server) maps them to gRPC status codes, so
servicers never catch exceptions to translate them. Anything else that escapes a handler becomes
INTERNAL "internal error" with the trace id logged and nothing of the exception sent back.
"""

from __future__ import annotations

from typing import ClassVar

import grpc
from google.rpc import error_details_pb2, status_pb2


class ServiceError(Exception):
    """A failure the caller can act on. The message is sent to the caller: no secrets in it.

    ``field`` names the offending request field (e.g. "user.user_name"); ``reason`` is a
    machine-readable word (e.g. "uniqueness", "invalid_filter", "version_mismatch").
    """

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    """The stored state forbids the change, e.g. an expected_version mismatch."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class OutOfRange(ServiceError):
    """A position (e.g. a change-feed cursor) outside what is kept."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(ServiceError):
    """A dependency (database, peer service) cannot be reached now; retrying may work."""

    code = grpc.StatusCode.UNAVAILABLE


_BY_CODE: dict[grpc.StatusCode, type[ServiceError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        OutOfRange,
        Unavailable,
    )
}
_DOMAIN = "idmesh"
_TRANSPORT_MESSAGES = {
    grpc.StatusCode.UNAVAILABLE: "a dependency is unavailable, retry later",
    grpc.StatusCode.DEADLINE_EXCEEDED: "a dependency did not answer in time, retry later",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "a dependency is overloaded, retry later",
}


def to_status(error: ServiceError) -> status_pb2.Status:
    """The google.rpc.Status sent for ``error``: code, message, ErrorInfo(reason) and, when a field
    is named, BadRequest.FieldViolation (the rich error model, google/rpc/error_details.proto)."""
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if error.reason:
        info = error_details_pb2.ErrorInfo(reason=error.reason, domain=_DOMAIN)
        status.details.add().Pack(info)
    if error.field:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field, description=error.message
        )
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    return status


def from_rpc_error(error: grpc.aio.AioRpcError) -> ServiceError:
    """Rebuilds the ServiceError a peer raised, so a caller can re-raise or map it unchanged.

    Codes outside the tree (INTERNAL, DEADLINE_EXCEEDED, UNAVAILABLE from the transport, ...)
    come back as Unavailable or a plain ServiceError carrying the code. A transport failure's
    own text is replaced by a fixed one: it may name internal addresses. RESOURCE_EXHAUSTED from
    gRPC itself (a server past its concurrent-call limit, no rich status) is an overloaded
    peer, Unavailable: the caller did nothing wrong and should retry, unlike a ServiceError
    ResourceExhausted (a quota the caller used up)."""
    code = error.code()
    message = error.details() or ""
    field = reason = ""
    rich = False
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            rich = True
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad_request = error_details_pb2.BadRequest()
                    detail.Unpack(bad_request)
                    if bad_request.field_violations:
                        field = bad_request.field_violations[0].field
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and not rich:
        return Unavailable(_TRANSPORT_MESSAGES[code], reason="overloaded")
    if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
        # Only a status a peer sent on purpose (rich details: a ServiceError) carries a message
        # written for callers; gRPC's own transport texts ("Stream removed (Socket closed)",
        # "failed to connect to all addresses; ... ipv4:10.0.0.7:50051") name internal
        # addresses and would be relayed verbatim by a caller mapping this error.
        if not rich or not message:
            message = _TRANSPORT_MESSAGES[code]
        return Unavailable(message, reason=reason or "unavailable")
    cls = _BY_CODE.get(code)
    if cls is None:
        generic = ServiceError(message, field=field, reason=reason)
        generic.code = code  # type: ignore[misc]
        return generic
    return cls(message, field=field, reason=reason)
