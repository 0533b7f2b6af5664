"""One bench run: wait for an idle machine, run every scenario, print the cost table (CPU ms per
request of each process, per case, beside the reference's) and the targets table (the detailed
load and memory tables go to stderr), save Markdown and JSON in tests/artifacts/bench/
(``make bench-compare`` compares the last two).

Environment: BENCH_SECONDS (measured seconds per row, default 3), BENCH_WARMUP (1),
BENCH_CONCURRENCY (levels of the gRPC rows, 1,32), BENCH_TRACING (off | on), BENCH_BUSY_CPU
(percent of one core used by other processes that makes the machine busy, 15),
BENCH_IDLE_WAIT (30), BENCH_ROW_IDLE_WAIT (5), BENCH_IDLE_SETTLE (3), BENCH_BUSY_RETRIES (0),
BENCH_WORKERS_PER_CHANNEL (8), BENCH_CALL_TIMEOUT (5), BENCH_SCENARIOS (comma-separated subset
of directory, scim, tokens, tracing, oidc, saml, polis, events), BENCH_SCIM_CONCURRENCY (the
HTTP API rows too), BENCH_OIDC_CONCURRENCY, BENCH_SAML_CONCURRENCY (16), BENCH_TRACE_SAMPLES
(requests the slowest-hop figures are taken over, 50), TEST_DATABASE_URL (a PostgreSQL server
to use instead of a throwaway cluster). The waits and retries are short by default so that a
run stays within about fifteen minutes on a shared two-core machine; lengthen them (e.g.
BENCH_SECONDS=5 BENCH_BUSY_RETRIES=1) for steadier figures when time allows.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from datetime import datetime
from importlib import metadata
from pathlib import Path

from tests.bench.context import BenchContext
from tests.bench.figures import Figure
from tests.bench.machine import describe_machine, wait_for_idle
from tests.bench.report import RunReport, render
from tests.bench.scenarios import SCENARIOS
from tests.bench.settings import SettingsError, load_settings
from tests.bench.summary import render_text, save

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "artifacts" / "bench"
_VERSIONS = ("grpcio", "protobuf", "asyncpg", "opentelemetry-sdk")


def _versions() -> dict[str, str]:
    found = {}
    for package in _VERSIONS:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def _chosen_scenarios() -> list[str]:
    raw = os.environ.get("BENCH_SCENARIOS", "").strip()
    if not raw:
        return list(SCENARIOS)
    chosen = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        raise SettingsError(
            f"BENCH_SCENARIOS names unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}"
        )
    return chosen


async def bench() -> int:
    try:
        settings = load_settings()
        scenarios = _chosen_scenarios()
    except SettingsError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    print(
        f"bench: waiting for an idle machine (other processes under "
        f"{settings.busy_cpu_percent:g}% of one core for {settings.idle_settle_seconds:g} s, "
        f"at most {settings.idle_wait_seconds:g} s)",
        file=sys.stderr,
        flush=True,
    )
    idle = await wait_for_idle(
        threshold_percent=settings.busy_cpu_percent,
        settle_seconds=settings.idle_settle_seconds,
        max_wait_seconds=settings.idle_wait_seconds,
    )
    report = RunReport(
        started=datetime.now().astimezone(),
        finished=None,
        machine=describe_machine(),
        settings=settings,
        versions=_versions(),
        idle_wait=idle,
    )
    context = BenchContext(settings, report)
    context.progress(idle.describe(settings.busy_cpu_percent))
    failed = False
    for name in scenarios:
        try:
            await SCENARIOS[name](context)
        except Exception:
            # The other scenarios still run; the figures gathered so far are still printed.
            failed = True
            context.progress(f"scenario {name} failed:\n{traceback.format_exc()}")
            report.notes.append(f"scenario {name} FAILED (see stderr); its rows are incomplete")
            report.figures.append(Figure(f"scenario {name}", None, "", note="FAILED: see stderr"))
    report.finished = datetime.now().astimezone()
    # The detail behind the summary (CPU per row, every note) for whoever questions a figure.
    print(render(report), file=sys.stderr, flush=True)
    print(f"\n{render_text(report)}", flush=True)
    markdown, document = save(report, RESULTS)
    print(f"\nsaved {markdown.relative_to(ROOT)} and {document.relative_to(ROOT)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(bench()))
