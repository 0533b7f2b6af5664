"""What the CLI reports when an operation fails: one line on stderr and an exit code."""

from __future__ import annotations

import grpc

from meshkit.errors import from_rpc_error

EXIT_OK = 0
EXIT_FAILED = 1
"""The operation failed (not found, refused, a peer unreachable, ...)."""
EXIT_USAGE = 2
"""The command line or the configuration is wrong."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report SIGINT (128 + 2)."""


class CliError(Exception):
    """A failure to report as ``error: <message>`` on stderr, exiting with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _from_the_service(error: grpc.aio.AioRpcError) -> bool:
    # meshkit's server attaches a google.rpc.Status to every error it raises on purpose; a
    # transport failure (nothing listening, connection reset) carries none.
    return any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata() or ())


def rpc_failure(peer: str, address: str, error: grpc.aio.AioRpcError) -> CliError:
    """The one-line explanation of a failed call to ``peer`` at ``address``."""
    code = error.code()
    if code is grpc.StatusCode.UNAVAILABLE and not _from_the_service(error):
        return CliError(f"cannot reach {peer} at {address} — is the mesh running? (make run)")
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(f"{peer} at {address} did not answer in time")
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return CliError(f"{peer} at {address} does not support this command (is it up to date?)")
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS):
        return CliError(f"{peer} failed with an internal error; its logs have the details")
    # Messages of the other codes are written for the caller (meshkit.errors.ServiceError).
    return CliError(str(from_rpc_error(error)))
