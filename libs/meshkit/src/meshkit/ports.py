"""A listening port someone else holds: one error and one exit code for every service.

A launcher that picked a free port for a service cannot keep another process from taking it
before the service binds it; exiting with ``EXIT_PORT_TAKEN`` tells it to pick another port and
start again, instead of guessing from the log (infra/dev/mesh.py)."""

from __future__ import annotations

EXIT_PORT_TAKEN = 3
"""The exit code of a service whose listening port is taken (2 is an invalid configuration)."""


class PortTakenError(OSError):
    """The service's listening address is in use by another process."""

    def __init__(self, address: str) -> None:
        super().__init__(f"{address} is already in use")
        self.address = address
