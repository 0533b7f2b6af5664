"""idmesh_cli.errors: a failed call becomes one line that says what to do."""

from __future__ import annotations

import grpc
from grpc_status import rpc_status

from idmesh_cli.errors import rpc_failure
from idmesh_cli.migrate import describe_server
from meshkit.errors import InvalidArgument, ServiceError, Unavailable, to_status


def _from_service(error: ServiceError) -> grpc.aio.AioRpcError:
    status = rpc_status.to_status(to_status(error))
    return grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        status.details,
    )


def _transport(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def test_nothing_listening_suggests_starting_the_mesh() -> None:
    """A transport UNAVAILABLE (no rich status) means nothing listens at the address."""
    error = _transport(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    assert rpc_failure("directory", "127.0.0.1:50051", error).message == (
        "cannot reach directory at 127.0.0.1:50051 — is the mesh running? (make run)"
    )


def test_a_service_that_is_up_but_degraded_says_so_instead() -> None:
    """UNAVAILABLE raised by the service (its database is down) is not "start the mesh"."""
    error = _from_service(Unavailable("a dependency is unavailable, retry later"))
    assert rpc_failure("auth", "127.0.0.1:50052", error).message == (
        "a dependency is unavailable, retry later"
    )


def test_a_refusal_keeps_the_field_and_message_of_the_service() -> None:
    """Caller-facing codes keep the service's message and field (meshkit ServiceError); exit 1."""
    error = _from_service(InvalidArgument("must be a UUID", field="token_id"))
    failure = rpc_failure("auth", "127.0.0.1:50052", error)
    assert (failure.message, failure.exit_code) == ("token_id: must be a UUID", 1)


def test_an_internal_error_points_to_the_service_logs() -> None:
    """INTERNAL carries nothing useful by design (meshkit): point to the service's logs."""
    error = _transport(grpc.StatusCode.INTERNAL, "internal error")
    assert "directory failed with an internal error" in rpc_failure("directory", "x", error).message


def test_a_slow_service_is_a_timeout() -> None:
    """DEADLINE_EXCEEDED (meshkit's default 5 s deadline) is reported as a timeout."""
    error = _transport(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert rpc_failure("auth", "h:1", error).message == "auth at h:1 did not answer in time"


def test_database_urls_are_shown_without_credentials() -> None:
    """No secrets in output: user and password are dropped, the query too."""
    assert describe_server(
        "postgresql://admin:hunter2@db.internal:6432/idmesh?sslmode=require"
    ) == ("db.internal:6432/idmesh")
    assert describe_server("postgresql:///idmesh") == "localhost:5432/idmesh"
