"""Resident memory of a process, in MiB.

RSS is what a Kubernetes memory limit is compared against (the cgroup charges it). USS, the
pages only this process holds, is recorded beside it because every service maps the same
Python, grpc and OpenSSL libraries, which RSS counts once per process.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    rss_mib: float
    # None where /proc/<pid>/smaps is not readable.
    uss_mib: float | None


def resident(pid: int) -> Memory | None:
    """The process's memory now, or None when it is gone."""
    try:
        proc = psutil.Process(pid)
        try:
            full = proc.memory_full_info()
            return Memory(rss_mib=float(full.rss) / MIB, uss_mib=float(full.uss) / MIB)
        except psutil.AccessDenied:
            return Memory(rss_mib=float(proc.memory_info().rss) / MIB, uss_mib=None)
    except psutil.Error:
        return None


def python_process(pid: int) -> int:
    """The process that does the work behind ``pid``: a launcher may start a service through a
    wrapper (``uv run``, a shell) whose own memory is not the service's; follow single children
    down until a Python interpreter (or the end of the chain)."""
    current = pid
    for _ in range(5):
        try:
            proc = psutil.Process(current)
            if "python" in proc.name().lower():
                return current
            children = proc.children()
        except psutil.Error:
            return current
        if len(children) != 1:
            return current
        current = int(children[0].pid)
    return current
