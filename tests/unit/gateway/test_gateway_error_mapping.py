"""gateway.errors: gRPC status codes to HTTP (google/rpc/code.proto) and RFC 9457 bodies."""

from __future__ import annotations

import grpc
import pytest
from aiohttp import web
from grpc_status import rpc_status

from gateway.errors import (
    INTERNAL_DETAIL,
    Problem,
    http_status,
    problem_body,
    problem_from_exception,
)
from meshkit.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unavailable,
    to_status,
)

C = grpc.StatusCode


def _received(error: ServiceError) -> grpc.aio.AioRpcError:
    """What a grpc.aio client sees when a peer raised ``error`` (meshkit's interceptor)."""
    status = rpc_status.to_status(to_status(error))
    return grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        status.details,
    )


def _raw(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (C.INVALID_ARGUMENT, 400),
        (C.FAILED_PRECONDITION, 400),
        (C.OUT_OF_RANGE, 400),
        (C.UNAUTHENTICATED, 401),
        (C.PERMISSION_DENIED, 403),
        (C.NOT_FOUND, 404),
        (C.ALREADY_EXISTS, 409),
        (C.ABORTED, 409),
        (C.RESOURCE_EXHAUSTED, 429),
        (C.CANCELLED, 499),
        (C.UNIMPLEMENTED, 501),
        (C.UNAVAILABLE, 503),
        (C.DEADLINE_EXCEEDED, 504),
        (C.INTERNAL, 500),
        (C.UNKNOWN, 500),
        (C.DATA_LOSS, 500),
    ],
)
def test_each_grpc_code_maps_to_the_http_status_of_code_proto(
    code: grpc.StatusCode, status: int
) -> None:
    """google/rpc/code.proto gives each code its HTTP mapping."""
    assert http_status(code) == status


def test_a_version_mismatch_is_412_precondition_failed() -> None:
    """Optimistic concurrency (expected_version) is the HTTP precondition of RFC 9110 §15.5.13."""
    assert http_status(C.FAILED_PRECONDITION, "version_mismatch") == 412
    assert http_status(C.FAILED_PRECONDITION, "other_reason") == 400
    assert http_status(C.INVALID_ARGUMENT, "version_mismatch") == 400


@pytest.mark.parametrize(
    "reason", ["txt_record_missing", "txt_record_mismatch", "dns_lookup_failed"]
)
def test_a_domain_whose_dns_does_not_show_the_record_yet_is_409(reason: str) -> None:
    """RFC 9110 §15.5.10: the request conflicts with the state of something outside it (the
    domain's DNS); fixing DNS and retrying succeeds. Other preconditions stay 400."""
    assert http_status(C.FAILED_PRECONDITION, reason) == 409
    assert http_status(C.FAILED_PRECONDITION, "in_use") == 400


def test_a_peer_error_keeps_its_message_field_and_reason() -> None:
    """4xx messages are written for the caller (meshkit ServiceError); the field is reported."""
    problem = problem_from_exception(
        _received(InvalidArgument("must be an IANA time zone", field="user.timezone"))
    )
    assert (problem.status, problem.detail, problem.field) == (
        400,
        "must be an IANA time zone",
        "user.timezone",
    )


def test_a_peer_version_mismatch_becomes_412() -> None:
    """The reason travels in google.rpc.ErrorInfo and selects 412."""
    error = _received(FailedPrecondition("stale version", reason="version_mismatch"))
    assert problem_from_exception(error).status == 412


@pytest.mark.parametrize(
    "code",
    [C.INTERNAL, C.UNKNOWN, C.DATA_LOSS, C.UNAVAILABLE, C.DEADLINE_EXCEEDED, C.UNIMPLEMENTED],
)
def test_server_side_failures_never_leak_the_peer_message(code: grpc.StatusCode) -> None:
    """Transport messages name internal addresses; INTERNAL may carry anything."""
    problem = problem_from_exception(_raw(code, "ipv4:10.0.0.7:50051 password=hunter2"))
    assert "hunter2" not in problem.detail
    assert "10.0.0.7" not in problem.detail
    assert problem.field == ""


def test_internal_errors_get_the_generic_body() -> None:
    """An unexpected failure answers a fixed text, never the exception's."""
    problem = problem_from_exception(RuntimeError("password=hunter2"))
    assert (problem.status, problem.detail) == (500, INTERNAL_DETAIL)
    assert problem_from_exception(_raw(C.INTERNAL, "internal error")).detail == INTERNAL_DETAIL


def test_unavailable_asks_the_caller_to_retry_after_one_second() -> None:
    """503 carries Retry-After (RFC 9110 §10.2.3) so clients back off instead of hammering."""
    assert problem_from_exception(_raw(C.UNAVAILABLE, "down")).headers["Retry-After"] == "1"
    assert problem_from_exception(Unavailable("db down")).headers["Retry-After"] == "1"


def test_a_peer_past_its_concurrent_call_limit_is_a_503_not_the_callers_429() -> None:
    """gRPC's own RESOURCE_EXHAUSTED ("Concurrent RPC limit exceeded!", no rich status) is an
    overloaded service: 503 with Retry-After (RFC 9110 §15.6.4), a fixed text; a quota the
    caller used up (a ServiceError ResourceExhausted) stays 429 (RFC 6585 §4)."""
    overloaded = problem_from_exception(
        _raw(C.RESOURCE_EXHAUSTED, "Concurrent RPC limit exceeded!")
    )
    assert (overloaded.status, overloaded.headers["Retry-After"]) == (503, "1")
    assert "Concurrent" not in overloaded.detail
    quota = problem_from_exception(_received(ResourceExhausted("too many", reason="rate_limited")))
    assert (quota.status, quota.detail) == (429, "too many")


def test_a_401_carries_a_bearer_challenge() -> None:
    """RFC 9110 §11.6.1: a 401 response sends WWW-Authenticate."""
    problem = problem_from_exception(_raw(C.UNAUTHENTICATED, "bad token"))
    assert problem.headers["WWW-Authenticate"] == 'Bearer realm="idmesh"'


def test_a_service_error_raised_in_the_gateway_maps_like_a_peer_error() -> None:
    """One mapping for peer errors and the gateway's own ServiceErrors."""
    problem = problem_from_exception(NotFound("account 'acme' not found"))
    assert (problem.status, problem.detail) == (404, "account 'acme' not found")


def test_aiohttp_client_errors_keep_their_meaningful_headers() -> None:
    """405 keeps Allow (RFC 9110 §15.5.6); the body's own Content-Type does not leak through."""
    problem = problem_from_exception(web.HTTPMethodNotAllowed("POST", ["GET", "HEAD"]))
    assert problem.status == 405
    assert problem.headers["Allow"] == "GET,HEAD"
    assert "Content-Type" not in problem.headers


def test_the_problem_body_has_the_rfc_9457_members_and_the_trace_id() -> None:
    """RFC 9457 §3.1: type, title, status, detail; plus trace_id and errors when a field is
    named."""
    body = problem_body(
        Problem(400, "must be an IANA time zone", field="user.timezone", trace_id="ab" * 16)
    )
    assert body == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "must be an IANA time zone",
        "trace_id": "ab" * 16,
        "errors": [{"field": "user.timezone", "detail": "must be an IANA time zone"}],
    }
    assert "errors" not in problem_body(Problem(404, "gone"))


def test_the_title_is_the_status_phrase() -> None:
    """RFC 9457 §4.2.1: with type about:blank, title is the HTTP status phrase."""
    assert Problem(429, "slow down").title == "Too Many Requests"
    assert Problem(499, "cancelled").title == "Client Closed Request"
