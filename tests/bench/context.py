"""What a scenario gets from the run: its settings, the report to add to, progress output, and
``measure``, which turns one load into one table row with the CPU picture beside it: CPU seconds
of each labelled process over the measured window, the load generator's included."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from tests.bench.cost import LOADGEN
from tests.bench.figures import Figure
from tests.bench.figures import Target as Goal
from tests.bench.lines import IDMESH, Line, line_of
from tests.bench.load import LoadResult, LoadSpec, Target, run_load
from tests.bench.machine import (
    CpuSnapshot,
    CpuUsage,
    OwnedPids,
    cpu_snapshot,
    cpu_usage,
    our_tree,
    process_tree,
    wait_for_idle,
)
from tests.bench.process_groups import Groups
from tests.bench.report import Row, RunReport
from tests.bench.settings import Settings


class _CpuProbe:
    """Samples CPU when the load generator opens and closes its measured window."""

    def __init__(self, groups: Groups, owned: OwnedPids) -> None:
        self._groups = groups
        self._owned = owned
        self._before: CpuSnapshot | None = None
        self._client = 0
        self.usage: CpuUsage | None = None

    async def window_opened(self, client_pid: int) -> None:
        self._client = client_pid
        self._before = await asyncio.to_thread(cpu_snapshot)

    async def window_closed(self) -> None:
        after = await asyncio.to_thread(cpu_snapshot)
        if self._before is None:
            return
        groups = await self._groups()
        groups[LOADGEN] = process_tree(self._client) or {self._client}
        self.usage = cpu_usage(self._before, after, our_tree() | await self._owned(), groups)


def disturbance(*rows: Row) -> str:
    """What may make ``rows``' figures low, in a few words for the summary table (the detailed
    table on stderr names the processes)."""
    errors = sum(row.load.errors for row in rows)
    busy = [row for row in rows if row.busy]
    parts = []
    if errors:
        codes: dict[str, int] = {}
        for row in rows:
            for code, count in row.load.error_codes.items():
                codes[code] = codes.get(code, 0) + count
        parts.append(f"{errors} errors ({max(codes, key=lambda c: codes[c])})")
    if busy:
        worst = max(row.cpu.other for row in busy)
        of = f" {len(busy)} of {len(rows)} rows" if len(rows) > 1 else ""
        parts.append(f"BUSY{of}: other processes {worst:.0f}% CPU")
    return ", ".join(parts)


class BenchContext:
    def __init__(self, settings: Settings, report: RunReport) -> None:
        self.settings = settings
        self.report = report
        self._owners: list[OwnedPids] = []

    def own(self, pids: OwnedPids) -> None:
        """Counts ``pids`` as ours in every later measurement: processes that work for this
        run outside its process tree, such as a PostgreSQL server (pg_ctl detaches it)."""
        self._owners.append(pids)

    async def owned(self) -> set[int]:
        found: set[int] = set()
        for owner in self._owners:
            found |= await owner()
        return found

    def progress(self, message: str) -> None:
        """A line on stderr while the run goes on, with the minutes since it began (where the
        time goes matters as much as the figures); stdout carries only the result."""
        elapsed = (datetime.now().astimezone() - self.report.started).total_seconds()
        stamp = f"{int(elapsed // 60):02d}:{int(elapsed % 60):02d}"
        print(f"bench {stamp}: {message}", file=sys.stderr, flush=True)

    def line(self, name: str, row: Row, system: str = IDMESH, baseline: str | None = None) -> Line:
        """Adds ``row`` to the cost table as case ``name`` served by ``system``, compared with
        the line of ``baseline`` (a system) of the same name."""
        line = line_of(name, row, system, baseline)
        self.report.lines.append(line)
        return line

    def add_line(self, line: Line) -> Line:
        self.report.lines.append(line)
        return line

    def ratio(
        self,
        name: str,
        value: float | None,
        goal: Goal | None = None,
        note: str = "",
        busy: bool = False,
    ) -> None:
        """Adds a ratio (ours over a baseline) to the summary table; ``busy`` when either
        side was measured on a busy machine."""
        self.report.figures.append(Figure(name, value, "×", goal, note, busy=busy))

    async def measure(
        self,
        scenario: str,
        target: Target,
        concurrency: int,
        groups: Groups,
        seconds: float | None = None,
    ) -> Row:
        """Runs ``target`` at ``concurrency`` after a (short) wait for an idle machine, and
        appends the row to the report. A window that other processes made busy is measured
        again, up to BENCH_BUSY_RETRIES times; the row keeps the attempt they disturbed least
        and says how many there were. ``seconds`` lengthens the window of a slow load, whose
        few requests would make a coarse CPU per request (BENCH_SECONDS by default)."""
        s = self.settings
        window = seconds or s.seconds
        idle_before, load, cpu = await self._attempt(scenario, target, concurrency, groups, window)
        attempts = 1
        while cpu.busy(s.busy_cpu_percent) and attempts <= s.busy_retries:
            attempts += 1
            again = await self._attempt(scenario, target, concurrency, groups, window)
            if again[2].other < cpu.other:
                idle_before, load, cpu = again
        notes = []
        if load.errors:
            codes = ", ".join(f"{code} {count}" for code, count in load.error_codes.items())
            notes.append(f"errors: {codes}")
        busy = cpu.busy(s.busy_cpu_percent)
        if busy:
            notes.append(cpu.busy_note(s.busy_cpu_percent))
        elif not idle_before:
            # Calm while measured, but it was not before: worth knowing when figures disagree.
            notes.append("busy just before")
        if attempts > 1:
            notes.append(f"{attempts} attempts, least disturbed kept")
        row = Row(scenario=scenario, load=load, cpu=cpu, busy=busy, note="; ".join(notes))
        self.report.rows.append(row)
        return row

    async def _attempt(
        self, scenario: str, target: Target, concurrency: int, groups: Groups, seconds: float
    ) -> tuple[bool, LoadResult, CpuUsage]:
        s = self.settings

        async def owned() -> set[int]:
            return set().union(await self.owned(), *(await groups()).values())

        idle = await wait_for_idle(
            threshold_percent=s.busy_cpu_percent,
            settle_seconds=s.idle_settle_seconds,
            max_wait_seconds=s.row_idle_wait_seconds,
            owned=owned,
        )
        self.progress(
            f"{scenario} at concurrency {concurrency}: {s.warmup:g} s warm-up + {seconds:g} s"
        )
        probe = _CpuProbe(groups, self.owned)
        load = await run_load(
            LoadSpec(
                target=target,
                concurrency=concurrency,
                seconds=seconds,
                warmup=s.warmup,
                workers_per_channel=s.workers_per_channel,
            ),
            probe,
        )
        if probe.usage is None:
            raise RuntimeError("the load generator never reported its measured window")
        cpu = probe.usage
        self.progress(
            f"  {load.requests_per_second:,.0f} req/s, p50 {load.p50_ms or 0:.2f} ms, "
            f"p99 {load.p99_ms or 0:.2f} ms, other CPU {cpu.other:.0f}%"
            + (" (busy)" if cpu.busy(s.busy_cpu_percent) else "")
        )
        return idle.idle, load, cpu
