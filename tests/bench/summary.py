"""What a run ends with, under a header saying where and when it was measured: the cost table
(every case: throughput, latency, CPU ms per request of each process, and the reference's),
then the targets (each figure with its target and verdict) and the other figures. Printed as
text, and written as Markdown (to paste into the README) and JSON (every detail of the run,
what ``make bench-compare`` reads) into tests/artifacts/bench/."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tests.bench import cost_table
from tests.bench.figures import Figure
from tests.bench.report import RunReport, aligned, plain

SERVICES = ("directory", "auth", "scim", "gateway")
# Loads whose peaks the memory rows show, by the label scenarios record them under; a login
# column takes the highest of the login loads.
SCIM_LOAD = "SCIM load"
LOGIN_LOADS = ("OIDC login load", "SAML login load")
_COLUMNS = ("figure", "value", "unit", "target", "result", "note")


def memory_figures(report: RunReport) -> list[Figure]:
    """One row per service: RSS idle / peak under the SCIM load / peak under the login loads."""
    figures = []
    for service in SERVICES:
        idle = report.idle_rss.get(service)
        scim = report.peak_rss.get(SCIM_LOAD, {}).get(service)
        logins = [report.peak_rss[load][service] for load in LOGIN_LOADS
                  if service in report.peak_rss.get(load, {})]  # fmt: skip
        login = max(logins) if logins else None
        if idle is None and scim is None and login is None:
            continue

        def mib(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f}"

        figures.append(
            Figure(
                name=f"RSS {service}: idle / SCIM load peak / login load peak",
                value=idle,
                unit="MiB",
                text=f"{mib(idle)} / {mib(scim)} / {mib(login)}",
                note="psutil RSS every 0.25 s during the loads",
            )
        )
    return figures


def all_figures(report: RunReport) -> list[Figure]:
    return [*report.figures, *memory_figures(report)]


def _cells(figures: Sequence[Figure]) -> list[list[str]]:
    return [
        [
            f.name,
            f.shown_value(),
            f.unit,
            f.target.describe() if f.target is not None else "-",
            f.verdict,
            f.note,
        ]
        for f in figures
    ]


def header_lines(report: RunReport) -> list[str]:
    m, s = report.machine, report.settings
    busy = report.busy_rows
    state = (
        f"busy during {len(busy)} of {len(report.rows)} loads (flagged in the notes)"
        if busy
        else f"idle during all {len(report.rows)} loads"
    )
    duration = ""
    if report.finished is not None:
        took = (report.finished - report.started).total_seconds() + report.idle_wait.waited_seconds
        duration = (
            f", took {took / 60:.1f} min (of which {report.idle_wait.waited_seconds:.0f} s "
            "waiting for an idle machine)"
        )
    return [
        f"date     {report.started.isoformat(timespec='seconds')}{duration}",
        f"machine  {m.cpu_model}, {m.logical_cores} logical cores"
        f"{f' ({m.physical_cores} physical)' if m.physical_cores else ''}, "
        f"{m.ram_mib / 1024:.1f} GiB RAM, Linux {m.kernel}",
        f"python   {m.python}; load generator, services, PostgreSQL and IdPs share the machine",
        f"tracing  {s.describe_tracing()} unless a row says otherwise",
        f"load     {state}; closed loop, {s.seconds:g} s measured after {s.warmup:g} s warm-up "
        "per load, generator in its own process",
    ]


def render_text(report: RunReport) -> str:
    figures = all_figures(report)
    parts = [*header_lines(report)]
    if report.lines:
        parts += ["", cost_table.render(report.lines), "", *_wrapped(cost_table.LEGEND)]
    if figures:
        parts += ["", aligned(_COLUMNS, _cells(figures), right={1})]
    return "\n".join(parts)


def _wrapped(text: str, width: int = 118) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current] if current else lines


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_markdown(report: RunReport) -> str:
    rows = _cells(all_figures(report))
    lines = [f"    {line}" for line in header_lines(report)]
    if report.lines:
        lines += ["", cost_table.render_markdown(report.lines), "", cost_table.LEGEND]
    lines += ["", "| " + " | ".join(_COLUMNS) + " |", "|---|---:|---|---|---|---|"]
    lines += ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save(report: RunReport, folder: Path) -> tuple[Path, Path]:
    """Writes the table as Markdown and every figure of the run as JSON; both also as latest.*
    so a README update always knows where to look."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.started.strftime("%Y%m%dT%H%M%S%z")
    document = plain(report)
    document["busy"] = bool(report.busy_rows)
    for row, stored in zip(report.rows, document["rows"], strict=True):
        stored["cpu_ms"] = row.cpu_ms
    document["summary"] = [
        {**plain(figure), "verdict": figure.verdict, "shown": figure.shown_value()}
        for figure in all_figures(report)
    ]
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    markdown = render_markdown(report)
    paths = (folder / f"bench-{stamp}.md", folder / f"bench-{stamp}.json")
    paths[0].write_text(markdown, encoding="utf-8")
    paths[1].write_text(text, encoding="utf-8")
    (folder / "latest.md").write_text(markdown, encoding="utf-8")
    (folder / "latest.json").write_text(text, encoding="utf-8")
    return paths
