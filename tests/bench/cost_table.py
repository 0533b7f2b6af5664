"""The cost table: one line per case of the run, with its throughput, latency and the CPU
milliseconds each process spent per request, and beneath it the line it is compared with
(scim2-server, Ory Polis, the gRPC echo, the untraced mesh) with that line's CPU per request in
the "ref" column and the ratio of the two. About 120 columns wide, so that it reads in a
terminal and pastes into the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from tests.bench.cost import AUTH, DIRECTORY, GATEWAY, IDP, LOADGEN, MESH, POSTGRES, SCIM
from tests.bench.lines import Line, baseline_of, cost_ratio

# (label, header) of the per-process columns, in order; "ref" follows them.
PROCESS_COLUMNS: Final = (
    (GATEWAY, "gw"), (AUTH, "auth"), (SCIM, "scim"), (DIRECTORY, "dir"), (POSTGRES, "pg"),
    (MESH, "mesh"), (IDP, "idp"), (LOADGEN, "load"),
)  # fmt: skip
HEADERS: Final = (
    "case", "c", "req/s", "p50", "p99", *(title for _, title in PROCESS_COLUMNS), "ref", "×ref",
    "",
)  # fmt: skip
LEGEND: Final = (
    "CPU ms per completed request of each process over the measured window (/proc; a "
    "service's worker children included): gw auth scim dir = the services, pg = PostgreSQL's "
    "processes, mesh = their sum, idp = the OIDC IdP (node; apart from mesh), load = the load "
    "generator (and the SAML IdP's signing). ref = CPU ms per request of the line beneath "
    '("vs …": the reference\'s process, the echo, or the untraced mesh); ×ref = mesh / ref. '
    "p50/p99 in ms. * = other processes were busy during the window, E = errors."
)
_GAP: Final = "  "


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cells(line: Line, label: str, ref: Line | None, ratio: float | None) -> list[str]:
    flags = ("*" if line.busy else "") + ("E" if line.errors else "")
    return [
        label,
        str(line.concurrency),
        f"{line.requests_per_second:,.0f}",
        _ms(line.p50_ms),
        _ms(line.p99_ms),
        *(_ms(line.cpu_ms.get(key)) for key, _ in PROCESS_COLUMNS),
        _ms(ref.cost if ref is not None else None),
        "-" if ratio is None else f"{ratio:.2f}",
        flags,
    ]


def table_rows(lines: Sequence[Line]) -> list[list[str]]:
    """The table's cells: each line, and its baseline right beneath it."""
    shown_below = {base.key for line in lines if (base := baseline_of(line, lines)) is not None}
    cells: list[list[str]] = []
    for line in lines:
        if line.key in shown_below:
            continue
        base = baseline_of(line, lines)
        cells.append(_cells(line, line.name, base, cost_ratio(line, lines)))
        if base is not None:
            cells.append(_cells(base, f"  vs {base.system}", base, None))
    return cells


def render(lines: Sequence[Line]) -> str:
    rows = table_rows(lines)
    widths = [len(header) for header in HEADERS]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def format_row(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if index == 0 or index == len(cells) - 1 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return _GAP.join(padded).rstrip()

    rule = _GAP.join("-" * width for width in widths).rstrip()
    return "\n".join([format_row(HEADERS), rule, *(format_row(row) for row in rows)])


def render_markdown(lines: Sequence[Line]) -> str:
    rows = table_rows(lines)
    align = ["---", *("---:" for _ in HEADERS[1:-1]), "---"]
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out)
