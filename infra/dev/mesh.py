"""One launcher of the real mesh processes, shared by `make run`, the end-to-end tests and the
benchmarks, so that all three exercise exactly the way the services are started in production:
``python -m <service>`` configured by environment variables only.

    mesh = Mesh(database_url, log_dir=tmp / "logs")
    await mesh.start()            # directory, deliverer, auth, scim, gateway; ready at /readyz 200
    mesh.gateway_url              # http://127.0.0.1:<port>
    await mesh.kill("directory")  # fault tests: SIGKILL, no graceful shutdown
    await mesh.restart("directory")
    await mesh.stop()             # SIGTERM in dependency order, SIGKILL after the grace period

Each process gets its own environment: the caller's, minus the variables the launcher owns
(``HOST``, ``PORT``, peer addresses, ``DATABASE_URL``, ``IDMESH_ENCRYPTION_KEY``,
``OTEL_SERVICE_NAME``, ``WORKERS``), plus the launcher's values and ``env_overrides``. Output goes
to ``<log_dir>/<service>.log`` or, without a log folder, to our stdout line by line with a service
prefix.

Every service runs one process (``WORKERS=1``) unless ``env_overrides`` or ``service_env`` set
``WORKERS``: then the process started is the service's supervisor and its workers are its
children (meshkit.supervisor). ``start`` waits until every worker serves, ``kill`` with SIGKILL
kills the supervisor and its workers, and a stop waits until the workers are gone too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import aiohttp

from meshkit.channel_pool import probe_new_connection
from meshkit.ports import EXIT_PORT_TAKEN
from meshkit.secretbox import new_key
from meshkit.workers import OWNED_VARIABLES, WORKERS_VARIABLE

# The deliverer (webhook deliveries of the change feed) is a worker of directory: it serves only
# gRPC health, on its own port.
GRPC_SERVICES = ("directory", "deliverer", "auth", "scim")
SERVICES = (*GRPC_SERVICES, "gateway")
DEFAULT_PORTS = {
    "directory": 50051,
    "auth": 50052,
    "scim": 50053,
    "deliverer": 50054,
    "gateway": 8080,
}
# How each is started: ``python -m <module>``.
MODULES = {"deliverer": "directory.webhooks"}
# The front door first so that no new work arrives, the store last so in-flight work finishes.
STOP_ORDER = (("gateway", "deliverer"), ("scim", "auth"), ("directory",))
# Only the services that own a schema get the database URL and the key that seals the secrets
# stored there (IDMESH_ENCRYPTION_KEY): least privilege, even locally.
_STORING = frozenset({"directory", "deliverer", "auth"})
# Set by the launcher for each process; an inherited value would point every process at the same
# port or give them all the same service name in traces.
_OWNED_VARIABLES = frozenset(
    {
        "HOST",
        "PORT",
        "DATABASE_URL",
        "IDMESH_ENCRYPTION_KEY",
        "DIRECTORY_ADDR",
        "AUTH_ADDR",
        "SCIM_ADDR",
        "PUBLIC_URL",
        "OTEL_SERVICE_NAME",
        WORKERS_VARIABLE,
        *OWNED_VARIABLES,
    }
)
# The gateway's health answers name the worker that answered (gateway.health).
_WORKER_HEADER = "Idmesh-Worker"
_TAIL_LINES = 40
# Starts tried when another process takes a service's port between our check and its bind.
_BIND_ATTEMPTS = 5
_POLL_SECONDS = 0.1
# How long a SIGKILLed supervisor's workers may take to die (PR_SET_PDEATHSIG, then our SIGKILL).
_WORKERS_EXIT_SECONDS = 10.0


# Every process a Mesh started and has not reaped; killed at interpreter exit as a last resort,
# e.g. when a test run ends on an exception before its fixture could stop the mesh.
_LIVE_PIDS: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_LIVE_PIDS):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class MeshError(RuntimeError):
    """A process of the mesh failed to start, or exited when it should not have."""

    def __init__(self, message: str, *, service: str | None = None, code: int | None = None):
        super().__init__(message)
        self.service = service
        self.code = code


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now.

    SO_REUSEADDR as the services' own listeners use it: a port in TIME_WAIT is free for them,
    a port someone listens on is not."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a supervisor's workers), read from /proc."""
    children = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            children.append(int(entry.name))
    return children


def is_alive(pid: int) -> bool:
    """Whether any thread of process ``pid`` still runs. A zombie holds no port, but the main
    thread of a killed process may be a zombie while its other threads (grpc's) still exit,
    still holding the process's sockets."""
    try:
        tasks = list(os.scandir(f"/proc/{pid}/task"))
    except OSError:
        return False
    for task in tasks:
        try:
            stat = Path(task.path, "stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel reports free now (another process may still take it before we bind)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class _Process:
    service: str
    popen: asyncio.subprocess.Process
    log_path: Path | None
    log_file: IO[bytes] | None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL_LINES))
    pump: asyncio.Task[None] | None = None


class Mesh:
    """The processes of idmesh on one host, started, checked, stopped and broken on demand.

    ``ports`` maps a service to a fixed port: taken means an error. ``preferred_ports`` maps a
    service to the port it gets when that is free; the others get free ports. A port that is
    not fixed is never trusted to stay free: when another process takes it between our check
    and the service's bind, the service exits with ``EXIT_PORT_TAKEN`` and ``start`` moves it to
    another free port and starts it again (with every other process when it is a gRPC service:
    each was given its address). ``ports`` (and ``moved``) say where everything listens
    in the end. ``env_overrides`` applies to every process, ``service_env`` to one.

    ``encryption_key`` is the ``IDMESH_ENCRYPTION_KEY`` of the storing services (one key, as in
    production: directory seals webhook secrets that the deliverer opens); by default a fresh
    one for this mesh, kept across restarts of its processes.

    ``own_session``: each process in a session of its own, so that a terminal's Ctrl-C reaches
    only the launcher, which then stops them in order (``make run``). Off by default (tests): the
    processes share the caller's process group, so a CI timeout or a Ctrl-C that kills the test
    run without cleanup kills them too instead of leaving them holding ports.

    ``on_spawn(service, pid)`` is called as each process starts (make run records the pids).

    No preexec_fn (e.g. for PR_SET_PDEATHSIG): it forces fork() instead of vfork(), and a fork
    of a process with gRPC threads (the tests' OTLP receiver) aborts in gRPC's fork handlers."""

    def __init__(
        self,
        database_url: str,
        *,
        ports: Mapping[str, int] | None = None,
        preferred_ports: Mapping[str, int] | None = None,
        env_overrides: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
        encryption_key: str | None = None,
        log_dir: Path | None = None,
        host: str = "127.0.0.1",
        own_session: bool = False,
        on_spawn: Callable[[str, int], None] | None = None,
    ) -> None:
        unknown = set(ports or {}) | set(preferred_ports or {}) | set(service_env or {})
        unknown -= set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services: {', '.join(sorted(unknown))}")
        self.database_url = database_url
        self.host = host
        self.fixed = dict(ports or {})
        if len(set(self.fixed.values())) != len(self.fixed):
            raise ValueError(f"two services on one port: {self.fixed}")
        # service → the preferred port it could not have; filled in as ports move.
        self.moved: dict[str, int] = {}
        self.ports: dict[str, int] = dict(self.fixed)
        for service in SERVICES:
            if service in self.fixed:
                continue
            preferred = (preferred_ports or {}).get(service)
            if preferred and preferred not in self.ports.values() and port_is_free(preferred, host):
                self.ports[service] = preferred
            else:
                if preferred:
                    self.moved[service] = preferred
                self.ports[service] = self._another_port()
        self.env_overrides = dict(env_overrides or {})
        self.encryption_key = encryption_key or new_key()
        self.service_env = {svc: dict(env) for svc, env in (service_env or {}).items()}
        self.log_dir = log_dir
        self.own_session = own_session
        self.on_spawn = on_spawn
        self._processes: dict[str, _Process] = {}
        # Exited processes, kept for log_tail() until the service is started again.
        self._exited: dict[str, _Process] = {}

    # -- addresses -------------------------------------------------------------------------

    def address(self, service: str) -> str:
        """``host:port`` of ``service``."""
        return f"{self.host}:{self.ports[service]}"

    @property
    def addresses(self) -> dict[str, str]:
        return {svc: self.address(svc) for svc in SERVICES}

    @property
    def gateway_url(self) -> str:
        return f"http://{self.address('gateway')}"

    def client_env(self) -> dict[str, str]:
        """The variables a client of this mesh needs (the ``idmesh`` CLI, a benchmark)."""
        return {
            "DATABASE_URL": self.database_url,
            "DIRECTORY_ADDR": self.address("directory"),
            "AUTH_ADDR": self.address("auth"),
            "SCIM_ADDR": self.address("scim"),
            "GATEWAY_URL": self.gateway_url,
        }

    def log_path(self, service: str) -> Path | None:
        return self.log_dir / f"{service}.log" if self.log_dir is not None else None

    def pid(self, service: str) -> int | None:
        process = self._processes.get(service)
        return process.popen.pid if process is not None else None

    def worker_pids(self, service: str) -> list[int]:
        """The workers of ``service`` when it runs several (its supervisor's children)."""
        pid = self.pid(service)
        return child_pids(pid) if pid is not None and self.is_running(service) else []

    def is_running(self, service: str) -> bool:
        process = self._processes.get(service)
        return process is not None and process.popen.returncode is None

    def environment(self, service: str) -> dict[str, str]:
        """The complete environment ``service`` is started with."""
        env = {k: v for k, v in os.environ.items() if k not in _OWNED_VARIABLES}
        env.update(
            {
                "HOST": self.host,
                "PORT": str(self.ports[service]),
                "DIRECTORY_ADDR": self.address("directory"),
                "AUTH_ADDR": self.address("auth"),
                "SCIM_ADDR": self.address("scim"),
                # Logs must reach the file or the terminal as they are written, not at exit.
                "PYTHONUNBUFFERED": "1",
                # One process per service unless the caller asks for more.
                WORKERS_VARIABLE: "1",
            }
        )
        if service in _STORING:
            env["DATABASE_URL"] = self.database_url
            env["IDMESH_ENCRYPTION_KEY"] = self.encryption_key
        if service == "gateway":
            env["PUBLIC_URL"] = self.gateway_url
        env.update(self.env_overrides)
        env.update(self.service_env.get(service, {}))
        return env

    # -- life cycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # A timeout parameter, not asyncio.timeout(): on expiry the error must name the late service
    # and carry its log, which a cancellation from outside cannot do.
    async def start(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Starts every process and returns once each gRPC service reports SERVING and the
        gateway's /readyz answers 200. On failure everything started is stopped and MeshError
        carries the tail of the failing process's log."""
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            self._move_from_busy_ports()
            try:
                for service in SERVICES:
                    if not self.is_running(service):
                        await self._spawn(service)
                await self._wait_ready(SERVICES, timeout)
                return
            except MeshError as error:
                taken = error.service if error.code == EXIT_PORT_TAKEN else None
                if taken is None or taken in self.fixed or attempt == _BIND_ATTEMPTS:
                    await self.stop()
                    raise
                if taken == "gateway":
                    await self.stop_service(taken)  # no peer was given its address
                else:
                    await self.stop()  # every process was given the old address
                self.moved.setdefault(taken, self.ports[taken])
                self.ports[taken] = self._another_port()
            except BaseException:
                await self.stop()
                raise

    def _another_port(self) -> int:
        """A free port no other service of this mesh has (the kernel may hand out a
        just-released port again)."""
        while (port := free_port(self.host)) in self.ports.values():
            pass
        return port

    def _move_from_busy_ports(self) -> None:
        """Before spawning: a movable service whose port is taken now gets another one; a fixed
        port that is taken fails the start."""
        busy = []
        for service, port in self.ports.items():
            if self.is_running(service) or port_is_free(port, self.host):
                continue
            if service in self.fixed:
                busy.append(f"{service} port {port}")
            else:
                self.moved.setdefault(service, port)
                self.ports[service] = self._another_port()
        if busy:
            raise MeshError(f"ports already in use: {', '.join(busy)}")

    async def stop(self, grace: float = 10.0) -> dict[str, int]:
        """SIGTERM in STOP_ORDER, SIGKILL for any process still alive after ``grace`` seconds.
        Returns each stopped process's exit code (negative: killed by that signal)."""
        codes: dict[str, int] = {}
        for group in STOP_ORDER:
            running = [svc for svc in group if svc in self._processes]
            results = await asyncio.gather(*(self.stop_service(svc, grace) for svc in running))
            codes.update(zip(running, results, strict=True))
        return codes

    async def stop_service(self, service: str, grace: float = 10.0) -> int:
        """Graceful stop of one service: SIGTERM (a supervisor passes it to its workers), then
        SIGKILL to the process and its workers after ``grace`` seconds; returns its exit code
        (the last one when it had already stopped)."""
        process = self._started(service)
        if process is None:
            return self._last_code(service)
        workers = child_pids(process.popen.pid) if process.popen.returncode is None else []
        if process.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.popen.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.popen.wait(), grace)
            except TimeoutError:
                self._kill_all([process.popen.pid, *workers])
        return await self._reap(service, workers)

    async def kill(self, service: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Sends ``sig`` (SIGKILL by default: a crash, no graceful shutdown) and waits for the
        process to exit; returns its exit code (the last one when it had already stopped).
        SIGKILL goes to the service's workers as well, as the kernel would to a whole pod;
        another signal goes to the supervisor, which passes SIGTERM and SIGINT on."""
        process = self._started(service)
        if process is None:
            return self._last_code(service)
        workers = child_pids(process.popen.pid) if process.popen.returncode is None else []
        if process.popen.returncode is None:
            if sig == signal.SIGKILL:
                self._kill_all([process.popen.pid, *workers])
            else:
                with contextlib.suppress(ProcessLookupError):
                    process.popen.send_signal(sig)
        return await self._reap(service, workers)

    @staticmethod
    def _kill_all(pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def restart(self, service: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Stops ``service`` if it still runs, starts it again on the same port, and waits until
        it serves and the gateway is ready again."""
        if service in self._processes:
            await self.stop_service(service)
        await self._spawn(service)
        waiting = [service]
        if service != "gateway" and self.is_running("gateway"):
            waiting.append("gateway")
        await self._wait_ready(waiting, timeout)

    async def wait_exit(self, service: str) -> int:
        """Waits until ``service`` exits on its own; its exit code."""
        process = self._started(service)
        return await process.popen.wait() if process is not None else self._last_code(service)

    async def wait_any_exit(self) -> str:
        """Waits until any running process exits; its service name."""
        waits = {
            asyncio.ensure_future(p.popen.wait()): svc
            for svc, p in self._processes.items()
            if p.popen.returncode is None
        }
        if not waits:
            raise MeshError("no process is running")
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return waits[next(iter(done))]

    def returncode(self, service: str) -> int | None:
        process = self._processes.get(service)
        return process.popen.returncode if process is not None else None

    def log_tail(self, service: str, lines: int = _TAIL_LINES) -> str:
        """The last ``lines`` lines ``service`` wrote (from its log file, or from memory when
        the output is streamed)."""
        path = self.log_path(service)
        if path is not None:
            if not path.exists():
                return ""
            with path.open("rb") as file:
                file.seek(max(0, path.stat().st_size - 64 * 1024))
                text = file.read().decode(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        process = self._processes.get(service) or self._exited.get(service)
        return "\n".join(list(process.tail)[-lines:]) if process is not None else ""

    # -- internals -------------------------------------------------------------------------

    async def _spawn(self, service: str) -> None:
        path = self.log_path(service)
        log_file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Appending: a restarted process's log follows its predecessor's, for the post-mortem.
            log_file = path.open("ab")
            log_file.write(f"--- {service} starting on port {self.ports[service]}\n".encode())
            log_file.flush()
        popen = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            MODULES.get(service, service),
            env=self.environment(service),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file if log_file is not None else asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=self.own_session,
        )
        _LIVE_PIDS.add(popen.pid)
        process = _Process(service, popen, path, log_file)
        if popen.stdout is not None:
            process.pump = asyncio.create_task(self._pump(process, popen.stdout))
        self._processes[service] = process
        if self.on_spawn is not None:
            self.on_spawn(service, popen.pid)

    def _started(self, service: str) -> _Process | None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        return self._processes.get(service)

    def _last_code(self, service: str) -> int:
        exited = self._exited.get(service)
        if exited is None or exited.popen.returncode is None:
            raise MeshError(f"{service} was never started")
        return exited.popen.returncode

    async def _pump(self, process: _Process, stream: asyncio.StreamReader) -> None:
        """Copies a streamed process's output to our stdout, each line prefixed by its service."""
        width = max(len(svc) for svc in SERVICES)
        prefix = f"{process.service:<{width}} | "
        if sys.stdout.isatty():
            colour = 31 + SERVICES.index(process.service) % 6
            prefix = f"\033[{colour}m{prefix}\033[0m"
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the stream limit: take what there is
                raw = await stream.read(64 * 1024)
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\n")
            process.tail.append(line)
            sys.stdout.write(prefix + line + "\n")
            sys.stdout.flush()

    async def _reap(self, service: str, workers: list[int] | None = None) -> int:
        """Waits for the process to exit, then for its ``workers`` (which may outlive a
        SIGKILLed supervisor by the moment their death signal takes) to be gone, so that the
        port is free for a restart."""
        process = self._processes.pop(service)
        code = await process.popen.wait()
        _LIVE_PIDS.discard(process.popen.pid)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _WORKERS_EXIT_SECONDS
        while any(is_alive(pid) for pid in workers or ()):
            if loop.time() > deadline:
                self._kill_all([pid for pid in workers or () if is_alive(pid)])
                deadline = loop.time() + _WORKERS_EXIT_SECONDS
            await asyncio.sleep(0.02)
        if process.pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await process.pump
        if process.log_file is not None:
            process.log_file.close()
        self._exited[service] = process
        return code

    def _failure(self, service: str, what: str, code: int | None = None) -> MeshError:
        where = self.log_path(service)
        source = f" ({where})" if where is not None else ""
        tail = self.log_tail(service) or "(no output)"
        return MeshError(
            f"{service} {what}; last lines of its log{source}:\n{tail}", service=service, code=code
        )

    def _check_alive(self, service: str) -> None:
        process = self._processes[service]
        code = process.popen.returncode
        if code is not None:
            raise self._failure(service, f"exited with code {code} during start-up", code)

    async def _wait_ready(self, services: tuple[str, ...] | list[str], within: float) -> None:
        deadline = asyncio.get_running_loop().time() + within
        try:
            async with asyncio.TaskGroup() as group:
                for service in services:
                    if service == "gateway":
                        group.create_task(self._wait_gateway_ready(deadline))
                    else:
                        group.create_task(self._wait_serving(service, deadline))
        except BaseExceptionGroup as errors:
            first = errors.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None

    async def _wait_serving(self, service: str, deadline: float) -> None:
        """Until every worker of ``service`` reports SERVING: each probe is a new connection,
        which the kernel hands to any of the workers, so the probes go on until each one has
        answered (a server that does not name its worker is one process)."""
        loop = asyncio.get_running_loop()
        heard: set[int] = set()
        workers = 0
        while True:
            self._check_alive(service)
            probed = await probe_new_connection(self.address(service), deadline=1.0)
            if probed is not None and probed[0]:
                identity = probed[1]
                if identity is None:
                    return
                heard.add(identity.index)
                workers = identity.count
                if len(heard) >= workers:
                    return
            if loop.time() > deadline:
                which = f" (heard from {len(heard)} of {workers} workers)" if workers else ""
                raise self._failure(service, f"did not report SERVING in time{which}")
            await asyncio.sleep(_POLL_SECONDS if probed is None or not probed[0] else 0.01)

    async def _wait_gateway_ready(self, deadline: float) -> None:
        """Until every worker of the gateway answers /readyz 200, over a new connection per
        probe (see _wait_serving)."""
        loop = asyncio.get_running_loop()
        url = f"{self.gateway_url}/readyz"
        last = "no answer"
        heard: set[str] = set()
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=2.0),
            connector=aiohttp.TCPConnector(force_close=True),
        ) as session:
            while True:
                self._check_alive("gateway")
                ready = False
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            ready = True
                            index, _, count = response.headers.get(_WORKER_HEADER, "0/1").partition(
                                "/"
                            )
                            heard.add(index)
                            if len(heard) >= int(count or 1):
                                return
                        else:
                            last = f"{response.status}: {(await response.text())[:200]}"
                except (aiohttp.ClientError, TimeoutError) as error:
                    last = type(error).__name__
                if loop.time() > deadline:
                    raise self._failure("gateway", f"/readyz not 200 in time (last: {last})")
                await asyncio.sleep(0.01 if ready else _POLL_SECONDS)
