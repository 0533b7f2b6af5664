"""The supervisor of a service's workers (``WORKERS`` above 1): it claims the port, starts the
workers as fresh interpreters, forwards SIGTERM and SIGINT to them, and exits when they have.

    exec_supervisor("scim", workers=4, host="0.0.0.0", port=50053)   # never returns

The service's process, once its configuration is checked, replaces itself (same pid, so the
orchestrator's signals still reach it) by ``python -m meshkit.supervisor``: a small program
that imports none of the service's code, so the supervisor holds ~25 MiB instead of a whole
idle copy of the service. Each worker is the service's own command line run again (``python -m
scim`` or the console script) with ``WORKER_INDEX`` set: a fresh interpreter, never a fork (a
fork of a process that has imported grpc may deadlock in grpc's fork handlers). It binds the
port itself with SO_REUSEPORT, so the kernel spreads connections over the workers.

The port is claimed before any worker starts, so that two processes never share a port
silently although the workers share theirs: a plain bind test (no SO_REUSEPORT) fails when
anyone already listens there, and an abstract Unix socket named after the port, held for the
supervisor's life, stops a second supervisor that passed the same test at the same moment. A
worker whose bind still fails (someone took the port between the test and the bind) exits with
EXIT_PORT_TAKEN, and so does the supervisor.

When a worker dies on its own, the supervisor stops the others gracefully and exits non-zero
rather than starting a new one: the orchestrator (Kubernetes, compose's restart policy, the
test launcher) already restarts processes, with back-off, a restart count and an alert; a
crash that comes from the configuration, the database or a bug would crash a restarted worker
again, and a supervisor restarting it in a loop would hide that behind a pod that looks
healthy. Stopping the survivors gracefully lets their in-flight requests finish.

Workers never outlive the supervisor: each asks the kernel for SIGKILL when its parent dies
(PR_SET_PDEATHSIG, meshkit.workers.enter_worker), so a SIGKILLed supervisor leaves no worker
holding the port.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NoReturn

from meshkit.logs import setup_logging
from meshkit.ports import EXIT_PORT_TAKEN, PortTakenError
from meshkit.workers import (
    INDEX_VARIABLE,
    SECRET_BYTES,
    SECRET_FD_VARIABLE,
    SUPERVISOR_VARIABLE,
    WORKERS_VARIABLE,
)

logger = logging.getLogger("meshkit.supervisor")  # also when run as __main__

STOP_GRACE_SECONDS: Final = 20.0
"""How long the workers get to stop after SIGTERM before SIGKILL: each drains within its own
pause (1 s) and grace period (10 s) (meshkit.server, gateway.server), with room to spare, and
within Kubernetes' 30 s termination grace period minus the 5 s pre-stop pause."""
EXIT_WORKER_FAILED: Final = 1
_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]


def claim_port(host: str, port: int) -> tuple[socket.socket, int]:
    """(a lock held while the workers serve, the port): PortTakenError when anyone listens on
    ``host:port`` or another supervisor claimed the port; port 0 picks a free port."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the workers' own listeners: a port in TIME_WAIT is free, a port listened on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortTakenError(f"{host}:{port}") from None
            raise
        port = int(probe.getsockname()[1])
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Abstract names live per network namespace, as ports do, and vanish with the
            # process, even a SIGKILLed one.
            lock.bind(f"\0idmesh-workers-port-{port}")
        except OSError:
            lock.close()
            raise PortTakenError(f"{host}:{port}") from None
    return lock, port


def worker_command() -> list[str]:
    """This process's own command line, for a fresh interpreter: ``python -m scim`` or the
    console script, with the same interpreter options."""
    return [sys.executable, *sys.orig_argv[1:]]


def exec_supervisor(service: str, workers: int, host: str, port: int) -> NoReturn:
    """Replaces this process by the supervisor of ``workers`` workers running this process's
    command line (see the module docstring)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    arguments = [service, str(workers), host, str(port), "--", *worker_command()]
    os.execv(sys.executable, [sys.executable, "-m", "meshkit.supervisor", *arguments])  # noqa: S606


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m meshkit.supervisor SERVICE WORKERS HOST PORT -- COMMAND...``"""
    service, workers, host, port, separator, *command = sys.argv[1:] if argv is None else argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m meshkit.supervisor SERVICE WORKERS HOST PORT -- COMMAND")
    setup_logging(service)
    try:
        code = supervise(service, int(workers), host, int(port), command)
    except PortTakenError as error:
        print(f"{service}: cannot listen: {error}", file=sys.stderr)
        code = EXIT_PORT_TAKEN
    logging.shutdown()
    raise SystemExit(code)


@contextlib.contextmanager
def _signals_to_pipe() -> Iterator[int]:
    """SIGTERM, SIGINT and SIGCHLD written to a pipe (signal.set_wakeup_fd) instead of acting:
    the main loop reads them between its other work, so nothing runs inside a handler."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    handled = (*_STOP_SIGNALS, signal.SIGCHLD)
    previous_handlers = {signum: signal.signal(signum, _noted) for signum in handled}
    previous_fd = signal.set_wakeup_fd(write_fd)
    try:
        yield read_fd
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        os.close(read_fd)
        os.close(write_fd)


def _noted(signum: int, frame: object) -> None:
    """The handler of the signals the wakeup pipe carries: their default actions (terminate,
    ignore SIGCHLD) must not run."""


def supervise(
    service: str, workers: int, host: str, port: int, command: Sequence[str] | None = None
) -> int:
    """Runs ``workers`` workers of ``service`` (``command``, default this process's command
    line) on ``host:port`` until they stop; the exit code: 0 after a clean stop on
    SIGTERM/SIGINT, a worker's own code (or 1) when one died on its own. PortTakenError when
    the port is taken before any worker starts."""
    lock, port = claim_port(host, port)
    try:
        with _signals_to_pipe() as wakeups:
            started = _start(list(command or worker_command()), workers, port)
            logger.info(
                "%d workers of %s on %s:%d: pids %s",
                workers,
                service,
                host,
                port,
                ", ".join(str(worker.process.pid) for worker in started),
            )
            return _watch(started, wakeups)
    finally:
        lock.close()


def _start(command: list[str], workers: int, port: int) -> list[_Worker]:
    started: list[_Worker] = []
    secret = secrets.token_bytes(SECRET_BYTES)  # one per supervisor: its workers derive alike
    try:
        for index in range(workers):
            started.append(_spawn(command, index, workers, port, secret))
    except BaseException:
        for worker in started:
            worker.process.kill()
            worker.process.wait()
        raise
    return started


def _spawn(command: list[str], index: int, workers: int, port: int, secret: bytes) -> _Worker:
    secret_read, secret_write = os.pipe()
    try:
        # The pipe holds the secret until the worker reads it (it fits the pipe's buffer).
        os.write(secret_write, secret)
    finally:
        os.close(secret_write)
    environment = {
        **os.environ,
        WORKERS_VARIABLE: str(workers),
        INDEX_VARIABLE: str(index),
        SUPERVISOR_VARIABLE: str(os.getpid()),
        SECRET_FD_VARIABLE: str(secret_read),
        # A port 0 was resolved by claim_port: every worker must bind the same one.
        "PORT": str(port),
    }
    try:
        process = subprocess.Popen(  # noqa: S603 - the service's own command line, no shell
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            pass_fds=(secret_read,),
        )
    finally:
        os.close(secret_read)
    return _Worker(index, process)


def _watch(workers: list[_Worker], wakeups: int) -> int:
    """Waits for signals and exits; see supervise()."""
    alive = list(workers)
    deadline: float | None = None
    failure: int | None = None
    unclean = False
    while alive:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([wakeups], [], [], timeout)
        received = os.read(wakeups, 512) if readable else b""
        for signum in received:
            if signum in _STOP_SIGNALS and deadline is None:
                logger.info("%s: stopping the workers", signal.Signals(signum).name)
                _send(alive, signal.Signals(signum))
                deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in list(alive):
            code = worker.process.poll()
            if code is None:
                continue
            alive.remove(worker)
            if deadline is None:
                failure = code
                logger.error(
                    "worker %d (pid %d) exited with code %d; stopping the others",
                    worker.index,
                    worker.process.pid,
                    code,
                )
                _send(alive, signal.SIGTERM)
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            elif code != 0:
                unclean = True
                logger.warning("worker %d exited with code %d", worker.index, code)
        if alive and deadline is not None and time.monotonic() >= deadline:
            logger.error("%d workers still running after %gs: killing them", len(alive),
                         STOP_GRACE_SECONDS)  # fmt: skip
            for worker in alive:
                worker.process.kill()
                worker.process.wait()
            alive.clear()
            unclean = True
    if failure is not None:
        return failure if failure > 0 else EXIT_WORKER_FAILED
    return EXIT_WORKER_FAILED if unclean else 0


def _send(workers: list[_Worker], signum: signal.Signals) -> None:
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signum)


if __name__ == "__main__":
    main()
