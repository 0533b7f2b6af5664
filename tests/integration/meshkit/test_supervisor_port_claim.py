"""meshkit.supervisor.claim_port and the worker's name in health answers, over real sockets:
the two halves of "workers share a port, nobody else does"."""

from __future__ import annotations

import socket

import pytest

from meshkit.channel_pool import probe_new_connection
from meshkit.ports import PortTakenError
from meshkit.server import GrpcServer
from meshkit.supervisor import claim_port
from meshkit.workers import current


def test_a_port_someone_listens_on_is_refused() -> None:
    """The plain bind test: no SO_REUSEPORT, so any listener makes it fail."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with pytest.raises(PortTakenError):
            claim_port("127.0.0.1", listener.getsockname()[1])


def test_a_port_another_supervisor_claimed_is_refused_before_its_workers_listen() -> None:
    """Two supervisors starting at the same moment both pass the bind test (no worker listens
    yet); the lock named after the port lets only the first one go on."""
    lock, port = claim_port("127.0.0.1", 0)
    try:
        with pytest.raises(PortTakenError):
            claim_port("127.0.0.1", port)
    finally:
        lock.close()
    again, same = claim_port("127.0.0.1", port)  # released with the first supervisor
    again.close()
    assert same == port


async def test_a_health_answer_names_the_worker_that_gave_it() -> None:
    """What channel pools and launchers read to tell the workers apart (meshkit.server)."""
    server = GrpcServer("127.0.0.1", 0)
    port = await server.start()
    try:
        probed = await probe_new_connection(f"127.0.0.1:{port}")
    finally:
        await server.stop()
    assert probed == (True, current())
