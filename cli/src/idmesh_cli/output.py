"""Printing results: aligned tables and sentences for people, JSON for scripts (``--json``).

Results go to stdout, notes and warnings to stderr, so ``$(idmesh ...)`` captures only the
result (for ``token create``: only the secret).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message


def message_dict(message: Message) -> dict[str, Any]:
    """``message`` in the proto3 JSON mapping with the .proto field names (snake_case) and
    every field present, so scripts see a stable shape."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def timestamp(value: timestamp_pb2.Timestamp, *, unset: str = "-") -> str:
    """``2026-11-22T20:31:55Z``, or ``unset`` for an absent time."""
    if value.seconds == 0 and value.nanos == 0:
        return unset
    moment = value.ToDatetime(tzinfo=UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _cell(value: object) -> str:
    # Server-provided text is shown as one line: no control character may redraw the terminal.
    return "".join(char if char.isprintable() else "?" for char in str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns aligned on the widest cell, headers first; one line per row."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)
    ]
    lines = [list(headers), *cells]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


class Output:
    """Where a command writes; ``json_mode`` selects JSON documents on stdout."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode

    def result(self, text: str) -> None:
        """A human-readable result on stdout."""
        print(text, file=sys.stdout)

    def document(self, value: object) -> None:
        """A JSON document on stdout."""
        print(json.dumps(value, indent=2, sort_keys=True), file=sys.stdout)

    def note(self, text: str) -> None:
        """Context or a warning for the person at the terminal, on stderr."""
        print(text, file=sys.stderr)
