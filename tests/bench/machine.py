"""The machine a run happens on: what it is, whether it is idle, and who used its CPU.

Development machines are shared, so a figure is only worth something beside a record of what
else ran while it was measured. CPU is accounted per process from /proc (psutil): the bench's own
process tree and the processes a scenario names as its own (a PostgreSQL server started for it,
or the backends serving its database) are "ours"; every other user-space process is "other".
Kernel threads are kept apart: under load they mostly do our loopback networking. Steal time is
the hypervisor running someone else on our virtual cores, which is the machine being busy too.

CPU figures are percent of one core (top's convention), so 2 cores make 200 %.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_KTHREADD = 2  # parent of every kernel thread on Linux


@dataclass(frozen=True)
class MachineInfo:
    logical_cores: int
    physical_cores: int | None
    cpu_model: str
    ram_mib: int
    python: str
    kernel: str

    def describe(self) -> str:
        physical = f", {self.physical_cores} physical" if self.physical_cores else ""
        return (
            f"{self.logical_cores} logical cores{physical}, {self.cpu_model}, "
            f"{self.ram_mib / 1024:.1f} GiB RAM, Linux {self.kernel}"
        )


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # x86 says "model name"; some ARM kernels only say "Hardware" or "Model".
        if key.strip() in {"model name", "Hardware", "Model"} and value.strip():
            return value.strip()
    return platform.processor() or "unknown CPU"


def describe_machine() -> MachineInfo:
    physical = psutil.cpu_count(logical=False)
    return MachineInfo(
        logical_cores=int(psutil.cpu_count(logical=True) or os.cpu_count() or 1),
        physical_cores=int(physical) if physical else None,
        cpu_model=_cpu_model(),
        ram_mib=int(psutil.virtual_memory().total) // (1024 * 1024),
        python=platform.python_version(),
        kernel=platform.release(),
    )


@dataclass(frozen=True)
class _Process:
    create_time: float
    cpu_seconds: float
    name: str
    kernel_thread: bool


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds of every process, and the system's, at one instant."""

    at: float
    processes: Mapping[int, _Process]
    # System-wide seconds summed over all cores.
    task_seconds: float
    steal_seconds: float


def cpu_snapshot() -> CpuSnapshot:
    processes: dict[int, _Process] = {}
    for proc in psutil.process_iter(["ppid", "create_time", "cpu_times", "name"]):
        info = proc.info
        times = info.get("cpu_times")
        if times is None:  # gone or not readable: nothing to account
            continue
        processes[int(proc.pid)] = _Process(
            create_time=float(info.get("create_time") or 0.0),
            cpu_seconds=float(times.user + times.system),
            name=str(info.get("name") or "?"),
            kernel_thread=proc.pid == _KTHREADD or info.get("ppid") == _KTHREADD,
        )
    system = psutil.cpu_times()
    return CpuSnapshot(
        at=time.monotonic(),
        processes=processes,
        task_seconds=float(system.user + system.nice + system.system),
        steal_seconds=float(getattr(system, "steal", 0.0)),
    )


def our_tree() -> set[int]:
    """This process and all its descendants (services, load generator, echo server)."""
    me = psutil.Process()
    pids = {int(me.pid)}
    for child in me.children(recursive=True):
        pids.add(int(child.pid))
    return pids


def process_tree(pid: int) -> set[int]:
    """``pid`` and its descendants; empty when it is gone."""
    try:
        root = psutil.Process(pid)
        return {pid} | {int(child.pid) for child in root.children(recursive=True)}
    except psutil.Error:
        return set()


@dataclass(frozen=True)
class OtherProcess:
    pid: int
    name: str
    cpu_percent: float


@dataclass(frozen=True)
class CpuUsage:
    """Who used the CPU between two snapshots, in percent of one core."""

    seconds: float
    # Our processes by the labels the scenario gave them (gateway, pg, loadgen, ...), in percent
    # of one core, and the CPU seconds behind each (what CPU per request is computed from).
    groups: dict[str, float]
    group_seconds: dict[str, float]
    ours: float
    # other = other_running + other_exited: what the row's "other CPU%" shows and judges by.
    other: float
    # Processes outside the run that were alive when the window closed.
    other_running: float
    # System task time no live process accounts for: processes that exited during the window
    # (a compiler, a test worker, a shell loop); none of ours exit while a window is open. It
    # is the difference of two counters, so it carries a few percent of accounting noise.
    other_exited: float
    kernel: float
    steal: float
    top_other: tuple[OtherProcess, ...] = field(default=())

    def busy(self, threshold_percent: float) -> bool:
        return self.other > threshold_percent or self.steal > threshold_percent

    def busy_note(self, threshold_percent: float) -> str:
        """Why the window counts as busy, naming the biggest other processes; "" when idle."""
        if not self.busy(threshold_percent):
            return ""
        parts = []
        if self.other > threshold_percent:
            named = [
                f"{p.name} {p.cpu_percent:.0f}%" for p in self.top_other[:2] if p.cpu_percent >= 1
            ]
            if self.other_exited >= 1:
                named.append(f"exited {self.other_exited:.0f}%")
            parts.append(f"other {self.other:.0f}%" + (f" ({', '.join(named)})" if named else ""))
        if self.steal > threshold_percent:
            parts.append(f"steal {self.steal:.0f}%")
        return "busy: " + "; ".join(parts)


def cpu_usage(
    before: CpuSnapshot,
    after: CpuSnapshot,
    ours: Iterable[int],
    groups: Mapping[str, Iterable[int]] | None = None,
) -> CpuUsage:
    """Attributes the CPU used between ``before`` and ``after``: ``ours`` (plus every pid in
    ``groups``) is ours, kernel threads are the kernel's, the rest is other."""
    seconds = max(after.at - before.at, 1e-9)
    labelled = {label: set(pids) for label, pids in (groups or {}).items()}
    mine = set(ours).union(*labelled.values())
    per_pid: dict[int, float] = {}
    for pid, proc in after.processes.items():
        earlier = before.processes.get(pid)
        # A pid that is new, or reused by a new process, counts all the CPU it has used.
        if earlier is None or earlier.create_time != proc.create_time:
            used = proc.cpu_seconds
        else:
            used = max(proc.cpu_seconds - earlier.cpu_seconds, 0.0)
        per_pid[pid] = used

    def percent(cpu: float) -> float:
        return 100.0 * cpu / seconds

    spent = {label: sum(per_pid.get(pid, 0.0) for pid in pids) for label, pids in labelled.items()}

    kernel = sum(used for pid, used in per_pid.items() if after.processes[pid].kernel_thread)
    ours_total = sum(used for pid, used in per_pid.items() if pid in mine)
    others = {
        pid: used
        for pid, used in per_pid.items()
        if pid not in mine and not after.processes[pid].kernel_thread
    }
    system_tasks = after.task_seconds - before.task_seconds
    exited = max(system_tasks - sum(per_pid.values()), 0.0)
    running = sum(others.values())
    top = sorted(others.items(), key=lambda item: item[1], reverse=True)[:5]
    return CpuUsage(
        seconds=seconds,
        groups={label: percent(used) for label, used in spent.items()},
        group_seconds=spent,
        ours=percent(ours_total),
        other=percent(running + exited),
        other_running=percent(running),
        other_exited=percent(exited),
        kernel=percent(kernel),
        steal=percent(max(after.steal_seconds - before.steal_seconds, 0.0)),
        top_other=tuple(
            OtherProcess(pid, _label(pid, after.processes[pid].name), percent(used))
            for pid, used in top
            if used > 0
        ),
    )


def _label(pid: int, name: str) -> str:
    """A short name for a process: "python -m mypy" says more than "python". Only the
    program, module or script name is taken, never arguments, which may carry secrets."""
    try:
        command = [str(part) for part in psutil.Process(pid).cmdline()]
    except psutil.Error:
        return name
    if not command:
        return name
    program = Path(command[0]).name or name
    if not program.startswith("python") or len(command) < 2:
        return program
    first = command[1]
    if first == "-m" and len(command) > 2:
        return f"python -m {command[2]}"
    if first.startswith("-"):
        return f"python {first}"
    return f"python {Path(first).name}"


@dataclass(frozen=True)
class IdleWait:
    """The outcome of waiting for an idle machine."""

    waited_seconds: float
    # Whether the wait ended calm (possibly before a full settle period, when time ran out).
    idle: bool
    # The last one-second sample: what "not idle" looked like when the wait gave up.
    last: CpuUsage

    def describe(self, threshold_percent: float) -> str:
        if self.idle:
            return f"idle after {self.waited_seconds:.0f} s"
        return (
            f"NOT idle after {self.waited_seconds:.0f} s, ran anyway "
            f"({self.last.busy_note(threshold_percent).removeprefix('busy: ')})"
        )


OwnedPids = Callable[[], Awaitable[set[int]]]


async def _nothing_else() -> set[int]:
    return set()


async def wait_for_idle(
    *,
    threshold_percent: float,
    settle_seconds: float,
    max_wait_seconds: float,
    owned: OwnedPids = _nothing_else,
) -> IdleWait:
    """Samples CPU once a second until processes outside our tree (and ``owned``) stay under
    ``threshold_percent`` for ``settle_seconds`` in a row, or ``max_wait_seconds`` pass. Always
    takes at least one sample, so even a zero wait records the machine's state."""
    started = time.monotonic()
    calm_since: float | None = None
    before = await asyncio.to_thread(cpu_snapshot)
    while True:
        await asyncio.sleep(1.0)
        after = await asyncio.to_thread(cpu_snapshot)
        usage = cpu_usage(before, after, our_tree() | await owned())
        before = after
        now = time.monotonic()
        if usage.busy(threshold_percent):
            calm_since = None
        elif calm_since is None:
            calm_since = now - usage.seconds
        if calm_since is not None and now - calm_since >= settle_seconds:
            return IdleWait(now - started, True, usage)
        if now - started >= max_wait_seconds:
            # Out of time: calm in the last sample is the best we know, busy is busy.
            return IdleWait(now - started, calm_since is not None, usage)
