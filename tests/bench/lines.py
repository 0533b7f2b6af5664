"""The lines of the cost table: one per case a run measured (SCIM create, OIDC login, ...), with
its throughput, latency and CPU per request of each process, and the line of the system it is
compared with (scim2-server, Ory Polis, a bare gRPC echo) measured in the same run.

A line is what is saved in the run's JSON and what ``python -m tests.bench.compare`` compares
between runs, so its name stays the same from run to run: the key is (name, system,
concurrency).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.bench.cost import MESH, REFERENCE, merged
from tests.bench.report import Row

IDMESH = "idmesh"


@dataclass(frozen=True)
class Line:
    name: str
    # Who served the requests: "idmesh", or the reference's name and version.
    system: str
    concurrency: int
    requests: int
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    # Label (tests.bench.cost) → CPU milliseconds per request.
    cpu_ms: dict[str, float]
    busy: bool
    # The system of the line with the same name this one is compared with, if any.
    baseline: str | None = None
    note: str = ""
    # How many load rows the line is made of (alternating rows are merged).
    rows: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.name, self.system, self.concurrency)

    @property
    def cost(self) -> float | None:
        """CPU ms per request of what is measured: the mesh when the line has one, otherwise
        the reference process."""
        return self.cpu_ms.get(MESH, self.cpu_ms.get(REFERENCE))


def line_of(name: str, row: Row, system: str = IDMESH, baseline: str | None = None) -> Line:
    return lines_of(name, [row], system, baseline)


def lines_of(
    name: str, rows: Sequence[Row], system: str = IDMESH, baseline: str | None = None
) -> Line:
    """One line from rows of the same load (e.g. the "off" rows of an off-on-on-off sequence):
    requests and CPU summed, throughput and latencies averaged."""
    seconds = sum(row.load.seconds for row in rows)
    requests = sum(row.load.requests for row in rows)

    def mean(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return statistics.mean(known) if known else None

    return Line(
        name=name,
        system=system,
        concurrency=rows[0].load.concurrency,
        requests=requests,
        requests_per_second=requests / seconds if seconds else 0.0,
        p50_ms=mean([row.load.p50_ms for row in rows]),
        p99_ms=mean([row.load.p99_ms for row in rows]),
        errors=sum(row.load.errors for row in rows),
        cpu_ms=merged((row.cpu.group_seconds, row.load.requests) for row in rows),
        busy=any(row.busy for row in rows),
        baseline=baseline,
        note="; ".join(row.note for row in rows if row.note),
        rows=len(rows),
    )


def cost_ratio(line: Line, lines: Sequence[Line]) -> float | None:
    """``line``'s mesh CPU per request over its baseline's; None without both."""
    base = baseline_of(line, lines)
    ours, theirs = line.cost, base.cost if base is not None else None
    if ours is None or not theirs:
        return None
    return ours / theirs


def baseline_of(line: Line, lines: Sequence[Line]) -> Line | None:
    if line.baseline is None:
        return None
    key = (line.name, line.baseline, line.concurrency)
    return next((other for other in lines if other.key == key), None)
