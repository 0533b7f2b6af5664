"""What a run found: every load row with its CPU picture and the memory table, as aligned text
(the detail behind the summary tables, tests/bench/summary.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.bench.cost import LABELS, per_request
from tests.bench.figures import Figure
from tests.bench.load import LoadResult
from tests.bench.machine import CpuUsage, IdleWait, MachineInfo
from tests.bench.memory import Memory
from tests.bench.settings import Settings

if TYPE_CHECKING:
    from tests.bench.lines import Line


@dataclass
class Row:
    """One measured load: a scenario at one concurrency."""

    scenario: str
    load: LoadResult
    cpu: CpuUsage
    busy: bool
    note: str = ""
    # The scenario this row is compared with (the echo ceiling, the reference server) and its
    # throughput relative to it.
    baseline: str | None = None
    ratio: float | None = None

    @property
    def cpu_ms(self) -> dict[str, float]:
        """CPU milliseconds per completed request of each labelled process (tests.bench.cost)."""
        return per_request(self.cpu.group_seconds, self.load.requests)


@dataclass
class MemoryRow:
    process: str
    pid: int
    after_start: Memory | None
    after_load: Memory | None


@dataclass
class RunReport:
    started: datetime
    finished: datetime | None
    machine: MachineInfo
    settings: Settings
    versions: dict[str, str]
    idle_wait: IdleWait
    rows: list[Row] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    # Facts a scenario wants beside its figures (which database, which tracing, ...).
    notes: list[str] = field(default_factory=list)
    # The targets table's rows, in the order the scenarios measured them.
    figures: list[Figure] = field(default_factory=list)
    # The cost table's lines, in the order they were measured.
    lines: list[Line] = field(default_factory=list)
    # RSS MiB of each service: idle (the first mesh to record it), and the peak under each load.
    idle_rss: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def busy_rows(self) -> list[Row]:
        return [row for row in self.rows if row.busy]


def aligned(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return " | ".join(padded).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def load_table(rows: Sequence[Row]) -> str:
    """Every load row: throughput, latency, CPU ms per request of each labelled process (only
    the labels some row has), the CPU% of ours and of other processes."""
    labels = [label for label in LABELS if any(label in row.cpu_ms for row in rows)]
    headers = [
        "scenario", "c", "req/s", "p50 ms", "p99 ms", "errors", "vs base",
        *(f"{label} ms" for label in labels), "ours CPU%", "other CPU%", "note",
    ]  # fmt: skip
    cells = []
    for row in rows:
        cost = row.cpu_ms
        cells.append(
            [
                row.scenario,
                str(row.load.concurrency),
                f"{row.load.requests_per_second:,.0f}",
                _ms(row.load.p50_ms),
                _ms(row.load.p99_ms),
                str(row.load.errors),
                "-" if row.ratio is None else f"{row.ratio:.2f}",
                *(_ms(cost.get(label)) for label in labels),
                _percent(row.cpu.ours),
                _percent(row.cpu.other),
                row.note,
            ]
        )
    return aligned(headers, cells, right=set(range(1, len(headers) - 1)))


def _mib(memory: Memory | None, uss: bool = False) -> str:
    if memory is None:
        return "-"
    value = memory.uss_mib if uss else memory.rss_mib
    return "-" if value is None else f"{value:.1f}"


def memory_table(rows: Sequence[MemoryRow]) -> str:
    headers = [
        "process", "pid", "RSS MiB idle after start", "RSS MiB idle after load",
        "USS MiB idle after load",
    ]  # fmt: skip
    cells = [
        [
            row.process,
            str(row.pid),
            _mib(row.after_start),
            _mib(row.after_load),
            _mib(row.after_load, uss=True),
        ]
        for row in rows
    ]
    return aligned(headers, cells, right={1, 2, 3, 4})


def header(report: RunReport) -> str:
    s = report.settings
    busy = report.busy_rows
    if not report.rows:
        machine_state = "no rows were measured"
    elif busy:
        worst = max(row.cpu.other for row in busy)
        machine_state = (
            f"BUSY during {len(busy)} of {len(report.rows)} rows (other processes up to "
            f"{worst:.0f}% of one core; threshold {s.busy_cpu_percent:.0f}%): "
            "treat the flagged rows as lower bounds"
        )
    else:
        machine_state = (
            f"idle during every row (other processes under {s.busy_cpu_percent:.0f}% of one core)"
        )
    versions = ", ".join(f"{name} {version}" for name, version in report.versions.items())
    lines = [
        f"date       {report.started.isoformat(timespec='seconds')}",
        f"machine    {report.machine.describe()}",
        f"python     {report.machine.python} ({versions})",
        f"tracing    {s.describe_tracing()}",
        f"load       closed loop, {s.seconds:g} s measured after {s.warmup:g} s warm-up per row, "
        f"{s.workers_per_channel} workers per client connection, separate process",
        f"before     {report.idle_wait.describe(s.busy_cpu_percent)}",
        f"busy       {machine_state}",
        *(f"note       {note}" for note in report.notes),
        "vs base    req/s divided by the baseline's (echo, reference server) in the same run",
        "<x> ms     CPU milliseconds per completed request of process x over the measured window "
        "(/proc; a service's worker children included); mesh = gateway+auth+scim+directory+pg",
        "CPU%       percent of one core over each measured window "
        f"({report.machine.logical_cores} cores = {100 * report.machine.logical_cores}%); "
        "ours = every process of this run; other = every process outside it, "
        "including those that exited during the window (kernel threads excluded)",
    ]
    return "\n".join(lines)


def render(report: RunReport) -> str:
    parts = [header(report), "", load_table(report.rows)]
    if report.memory:
        parts += ["", memory_table(report.memory)]
    return "\n".join(parts)


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
