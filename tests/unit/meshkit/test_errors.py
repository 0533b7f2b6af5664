"""meshkit.errors: the rich status a service sends is rebuilt unchanged by its caller."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from meshkit.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unavailable,
    from_rpc_error,
    to_status,
)


def _as_received(error: ServiceError) -> grpc.aio.AioRpcError:
    """What a grpc.aio client sees when a server aborts with ``to_status(error)``."""
    status = rpc_status.to_status(to_status(error))
    return grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        status.details,
    )


@pytest.mark.parametrize(
    "error",
    [
        InvalidArgument("must be an IANA time zone", field="user.timezone"),
        AlreadyExists("user name taken", field="user.user_name", reason="uniqueness"),
        NotFound("user not found"),
    ],
)
def test_field_and_reason_survive_the_wire(error: ServiceError) -> None:
    """google/rpc/error_details.proto: BadRequest names the field, ErrorInfo the reason."""
    rebuilt = from_rpc_error(_as_received(error))
    assert type(rebuilt) is type(error)
    assert (rebuilt.message, rebuilt.field, rebuilt.reason) == (
        error.message,
        error.field,
        error.reason,
    )


def test_transport_failures_become_unavailable() -> None:
    """A peer that is down or too slow is retryable: the gateway answers 503, not 500."""
    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "down")
        assert isinstance(from_rpc_error(error), Unavailable)


def test_a_transport_failures_own_text_is_never_relayed() -> None:
    """gRPC's transport texts name internal addresses ("failed to connect to all addresses;
    ipv4:10.0.0.7:50051"): a caller mapping the error gets a fixed sentence instead, while a
    message a peer sent on purpose (a ServiceError) is kept."""
    transport = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
        "failed to connect to all addresses; last error: ipv4:10.0.0.7:50051",
    )  # fmt: skip
    assert "10.0.0.7" not in from_rpc_error(transport).message
    meant = from_rpc_error(_as_received(Unavailable("the directory is starting")))
    assert meant.message == "the directory is starting"


def test_a_server_past_its_concurrent_call_limit_is_unavailable() -> None:
    """grpc's own RESOURCE_EXHAUSTED (no rich status) is an overloaded peer: retryable
    Unavailable; a ResourceExhausted a service raised on purpose stays what it is."""
    overloaded = grpc.aio.AioRpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.aio.Metadata(), grpc.aio.Metadata(),
        "Concurrent RPC limit exceeded!",
    )  # fmt: skip
    rebuilt = from_rpc_error(overloaded)
    assert isinstance(rebuilt, Unavailable)
    assert rebuilt.reason == "overloaded"
    quota = from_rpc_error(_as_received(ResourceExhausted("quota used", reason="rate_limited")))
    assert isinstance(quota, ResourceExhausted)


def test_codes_outside_the_tree_keep_their_code() -> None:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(), "internal error"
    )
    rebuilt = from_rpc_error(error)
    assert rebuilt.code is grpc.StatusCode.INTERNAL
    assert rebuilt.message == "internal error"
