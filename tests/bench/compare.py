"""``make bench-compare``: what changed between two stored runs, case by case and process by
process.

    python -m tests.bench.compare                  # the latest run against the one before it
    python -m tests.bench.compare OLD.json NEW.json

For every line of the cost table present in both runs (same case, system and concurrency):
throughput before → after, and the CPU milliseconds per request of each process before → after
with the ratio. A change more than 10 % for the worse (CPU per request up, or throughput down)
is flagged REGRESSION, unless CPU per request rose by less than 0.05 ms: /proc counts CPU in
10 ms ticks, so a process that barely works (auth behind a cached token) jumps by whole ticks.
Only idmesh's lines can regress; a reference that got worse (scim2-server, Ory Polis, the echo)
is marked "worse (reference)": it says the machine changed, not the code. Lines only one run
has are listed. Two runs on a shared machine differ by
more than that for no reason at all, so a flag says "look", and the runs' busy flags say how
much to trust it. ``--strict`` exits 1 when anything is flagged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.bench.cost import LABELS
from tests.bench.lines import IDMESH
from tests.bench.report import aligned

RESULTS: Final = Path(__file__).resolve().parents[2] / "tests" / "artifacts" / "bench"
# Worse by more than this fraction is a regression...
THRESHOLD: Final = 0.10
# ...and, for CPU, by more than this many milliseconds per request.
MIN_CPU_MS: Final = 0.05
THROUGHPUT: Final = "req/s"

Key = tuple[str, str, int]


@dataclass(frozen=True)
class Change:
    """One figure of one line in both runs."""

    key: Key
    # THROUGHPUT, or a process label (tests.bench.cost) for CPU ms per request.
    figure: str
    before: float
    after: float
    # Either run measured the line on a busy machine.
    busy: bool

    @property
    def ratio(self) -> float | None:
        return self.after / self.before if self.before else None

    @property
    def worse(self) -> bool:
        ratio = self.ratio
        if ratio is None:
            return False
        if self.figure == THROUGHPUT:
            return ratio < 1.0 - THRESHOLD
        return ratio > 1.0 + THRESHOLD and self.after - self.before > MIN_CPU_MS

    @property
    def ours(self) -> bool:
        """A line of idmesh (traced or not), as opposed to a reference's."""
        return self.key[1].startswith(IDMESH)

    @property
    def regression(self) -> bool:
        return self.ours and self.worse


@dataclass(frozen=True)
class Comparison:
    changes: list[Change]
    # Lines one run has and the other does not.
    only_before: list[Key]
    only_after: list[Key]

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regression]


def _lines(document: Mapping[str, Any]) -> dict[Key, Mapping[str, Any]]:
    return {
        (str(line["name"]), str(line["system"]), int(line["concurrency"])): line
        for line in document.get("lines", [])
    }


def _labels(*costs: Mapping[str, float]) -> list[str]:
    present = set().union(*costs)
    return [label for label in LABELS if label in present] + sorted(present - set(LABELS))


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> Comparison:
    """The changes between two runs' JSON documents (tests/artifacts/bench/bench-*.json)."""
    old, new = _lines(before), _lines(after)
    changes: list[Change] = []
    for key, line in new.items():
        if key not in old:
            continue
        previous = old[key]
        busy = bool(line.get("busy")) or bool(previous.get("busy"))
        changes.append(
            Change(
                key,
                THROUGHPUT,
                float(previous["requests_per_second"]),
                float(line["requests_per_second"]),
                busy,
            )
        )
        then, now = previous.get("cpu_ms", {}), line.get("cpu_ms", {})
        for label in _labels(then, now):
            if label in then and label in now:
                changes.append(Change(key, label, float(then[label]), float(now[label]), busy))
    return Comparison(
        changes,
        only_before=[key for key in old if key not in new],
        only_after=[key for key in new if key not in old],
    )


def _number(figure: str, value: float) -> str:
    return f"{value:,.0f}" if figure == THROUGHPUT else f"{value:.2f}"


def render(comparison: Comparison, before: str, after: str) -> str:
    headers = ("case", "system", "c", "figure", "before", "after", "ratio", "")
    cells = []
    for change in comparison.changes:
        name, system, concurrency = change.key
        flags = [
            flag
            for flag, on in (
                ("REGRESSION", change.regression),
                ("worse (reference)", change.worse and not change.ours),
                ("busy", change.busy),
            )
            if on
        ]
        cells.append(
            [
                name,
                system,
                str(concurrency),
                THROUGHPUT if change.figure == THROUGHPUT else f"{change.figure} ms/req",
                _number(change.figure, change.before),
                _number(change.figure, change.after),
                "-" if change.ratio is None else f"{change.ratio:.2f}",
                " ".join(flags),
            ]
        )
    parts = [f"before  {before}", f"after   {after}", ""]
    if cells:
        parts.append(aligned(headers, cells, right={2, 4, 5, 6}))
    else:
        parts.append("no case was measured in both runs")
    for title, keys in (("only before", comparison.only_before),
                        ("only after", comparison.only_after)):  # fmt: skip
        if keys:
            listed = "; ".join(f"{name} [{system}, c={c}]" for name, system, c in keys)
            parts += ["", f"{title}: {listed}"]
    count = len(comparison.regressions)
    parts += [
        "",
        f"{count} regression{'s' if count != 1 else ''} (worse by more than "
        f"{THRESHOLD:.0%}: CPU ms per request up, or req/s down)",
    ]
    return "\n".join(parts)


def stored_runs(folder: Path = RESULTS) -> list[Path]:
    """The stored runs, oldest first (their names carry the start time)."""
    return sorted(folder.glob("bench-*.json"))


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def main(argv: Sequence[str] | None = None, folder: Path = RESULTS) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.compare", description=__doc__)
    parser.add_argument("runs", nargs="*", type=Path, help="OLD.json NEW.json (default: the "
                        "latest two runs in tests/artifacts/bench)")  # fmt: skip
    parser.add_argument("--strict", action="store_true", help="exit 1 on a regression")
    args = parser.parse_args(argv)
    if len(args.runs) not in (0, 2):
        parser.error("give two runs (OLD.json NEW.json), or none for the latest two")
    runs: list[Path] = list(args.runs) or stored_runs(folder)[-2:]
    if len(runs) < 2:
        print(f"bench-compare: fewer than two runs stored in {folder}", file=sys.stderr)
        return 2
    before, after = (_load(path) for path in runs)
    comparison = compare(before, after)
    for path, document in zip(runs, (before, after), strict=True):
        if "lines" not in document:
            print(f"bench-compare: {path} has no per-process CPU figures (an older run)")
    print(render(comparison, str(runs[0]), str(runs[1])))
    return 1 if args.strict and comparison.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
