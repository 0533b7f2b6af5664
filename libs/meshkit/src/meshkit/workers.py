"""Which worker this process is, how many workers its service runs, and what the workers of one
supervisor share.

A service runs ``WORKERS`` processes behind one port (meshkit.supervisor starts them): each is a
full process with its own event loop, server and database pool, bound to the same address with
SO_REUSEPORT so that the kernel spreads incoming connections over them. ``WORKERS=1`` is one
process and no supervisor: then this process is worker 0 of 1.

The supervisor tells each worker who it is through the environment (``WORKER_INDEX``,
``WORKERS``, ``IDMESH_SUPERVISOR_PID``) and hands it a secret of the group through an inherited
pipe (``IDMESH_WORKER_SECRET_FD``), never through the environment, which other processes of the
same user can read: keys that every worker must agree on without configuration (the gateway's
CSRF key, auth's fallback signing key) are derived from it.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import math
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from meshkit.config import ConfigError

WORKERS_VARIABLE: Final = "WORKERS"
INDEX_VARIABLE: Final = "WORKER_INDEX"
SUPERVISOR_VARIABLE: Final = "IDMESH_SUPERVISOR_PID"
SECRET_FD_VARIABLE: Final = "IDMESH_WORKER_SECRET_FD"
OWNED_VARIABLES: Final = frozenset({INDEX_VARIABLE, SUPERVISOR_VARIABLE, SECRET_FD_VARIABLE})
"""Set by a supervisor for its workers only; an inherited value would make a process believe it
is somebody's worker."""
METADATA_KEY: Final = "idmesh-worker"
"""The gRPC initial-metadata key of a health check's answer naming the worker that gave it
(meshkit.server); channel pools read it to spread calls over every worker (meshkit.channel_pool)."""
SECRET_BYTES: Final = 32
MAX_WORKERS: Final = 256

_PR_SET_PDEATHSIG: Final = 1


@dataclass(frozen=True)
class WorkerIdentity:
    """Worker ``index`` of the ``count`` workers of ``group`` (the host name and the pid of the
    supervisor, or of the process itself when it runs alone): unique on a cluster whose pods
    have unique host names."""

    index: int
    count: int
    group: str

    @property
    def supervised(self) -> bool:
        """Whether a supervisor started this worker (only ever when there are several)."""
        return self.count > 1

    @property
    def runs_background_jobs(self) -> bool:
        """Periodic jobs (domain re-checks, sweeps, expiry reminders) run in worker 0 only: every
        job is safe to run concurrently, but N copies would do the work N times."""
        return self.index == 0

    @property
    def instance_id(self) -> str:
        """OpenTelemetry's ``service.instance.id``: which process of which replica served."""
        return f"{self.group}/{self.index}"

    def header(self) -> str:
        """The value of METADATA_KEY: ``index/count group``."""
        return f"{self.index}/{self.count} {self.group}"

    @classmethod
    def parse(cls, value: str) -> WorkerIdentity | None:
        """The identity in a METADATA_KEY value; None when it is not one."""
        numbers, _, group = value.partition(" ")
        index, _, count = numbers.partition("/")
        if not (index.isdigit() and count.isdigit() and group):
            return None
        parsed = cls(int(index), int(count), group)
        return parsed if parsed.index < parsed.count <= MAX_WORKERS else None


def _group(supervisor_pid: int) -> str:
    return f"{socket.gethostname()}-{supervisor_pid}"


def identity_from(environ: Mapping[str, str]) -> WorkerIdentity:
    """This process's identity as ``environ`` tells it: worker 0 of 1 unless a supervisor
    started it."""
    supervisor = environ.get(SUPERVISOR_VARIABLE, "")
    if not supervisor.isdigit():
        return WorkerIdentity(0, 1, _group(os.getpid()))
    count = int(environ.get(WORKERS_VARIABLE, "1"))
    index = int(environ.get(INDEX_VARIABLE, "0"))
    return WorkerIdentity(index, count, _group(int(supervisor)))


_identity: WorkerIdentity | None = None
_secret: bytes | None = None


def current() -> WorkerIdentity:
    """This process's identity (read from the environment once)."""
    global _identity
    if _identity is None:
        _identity = identity_from(os.environ)
    return _identity


def cgroup_cpu_limit(
    root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")
) -> int | None:
    """The CPU limit of this process's cgroup in whole CPUs, rounded up (a container's
    ``resources.limits.cpu``), or None without one. os.sched_getaffinity counts the node's
    CPUs, not the quota: a pod limited to one CPU on a 32-core node would start 32 workers."""
    candidates: list[tuple[Path, Path | None]] = []
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2: every parent may limit as well
            folder = root / relative
            while True:
                candidates.append((folder / "cpu.max", None))
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "cpu" in controllers.split(","):
            folder = root / controllers / relative
            candidates.append((folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us"))
    limits = []
    for quota_file, period_file in candidates:
        try:
            if period_file is None:
                quota, _, period = quota_file.read_text().strip().partition(" ")
            else:
                quota, period = quota_file.read_text().strip(), period_file.read_text().strip()
        except OSError:
            continue
        if quota.lstrip("-").isdigit() and int(quota) > 0 and period.isdigit() and int(period):
            limits.append(max(1, math.ceil(int(quota) / int(period))))
    return min(limits) if limits else None


def default_workers() -> int:
    """One worker per CPU this process may run on, within its cgroup's CPU limit; 1 outside
    Linux, where SO_REUSEPORT does not spread connections and PR_SET_PDEATHSIG does not exist."""
    if not sys.platform.startswith("linux"):
        return 1
    cpus = len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(cpus, limit) if limit is not None else cpus)


def configured_workers(environ: Mapping[str, str] | None = None) -> int:
    """``WORKERS`` (default: default_workers()); ConfigError when it is not a number from 1 to
    MAX_WORKERS, or above 1 outside Linux."""
    environ = os.environ if environ is None else environ
    raw = environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        return default_workers()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise ConfigError([f"{WORKERS_VARIABLE} is invalid: expected 1 to {MAX_WORKERS} processes"])
    if int(raw) > 1 and not sys.platform.startswith("linux"):
        raise ConfigError([f"{WORKERS_VARIABLE} above 1 needs Linux (SO_REUSEPORT balancing)"])
    return int(raw)


def enter_worker(environ: Mapping[str, str] | None = None) -> None:
    """What a worker does first: die with its supervisor (PR_SET_PDEATHSIG, so that no worker
    outlives a SIGKILLed supervisor and keeps its port), make sure the supervisor is still its
    parent (it may have died before the line above), and read the group's secret."""
    global _secret
    environ = os.environ if environ is None else environ
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != int(environ[SUPERVISOR_VARIABLE]):
        os._exit(1)  # orphaned already: exit as the death signal would have made us
    descriptor = environ.get(SECRET_FD_VARIABLE, "")
    if descriptor.isdigit():
        with os.fdopen(int(descriptor), "rb") as pipe:
            secret = pipe.read(SECRET_BYTES)
        if len(secret) == SECRET_BYTES:
            _secret = secret


def shared_secret(purpose: str) -> bytes | None:
    """32 bytes every worker of this supervisor derives alike for ``purpose`` (and no other
    process can), or None when this process runs alone (it may then make its own key)."""
    if _secret is None:
        return None
    return hmac.new(_secret, purpose.encode(), hashlib.sha256).digest()
