"""Printing results: aligned tables and sentences for people, JSON for scripts (``--json``).

Results go to stdout, notes and warnings to stderr, so ``$(idmesh ...)`` captures only the
result (for ``token create``: only the secret).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any, cast

from google.protobuf import descriptor, json_format, timestamp_pb2
from google.protobuf.message import Message

_INTEGERS = frozenset(
    {
        descriptor.FieldDescriptor.TYPE_INT64,
        descriptor.FieldDescriptor.TYPE_UINT64,
        descriptor.FieldDescriptor.TYPE_SINT64,
        descriptor.FieldDescriptor.TYPE_FIXED64,
        descriptor.FieldDescriptor.TYPE_SFIXED64,
    }
)
# Messages the proto3 JSON mapping already renders as plain JSON (times, free-form claims).
_WELL_KNOWN = frozenset({"google.protobuf.Timestamp", "google.protobuf.Struct"})


def enum_name(enum: descriptor.EnumDescriptor, number: int) -> str:
    """The lower-case name the admin API uses for an enum value: its proto name without the
    enum's prefix (``PROFILE_UPDATE_EVERY_LOGIN`` → ``every_login``, ``OIDC_VENDOR_AZURE_AD`` →
    ``azure_ad``)."""
    value = enum.values_by_number.get(number)
    if value is None:
        return str(number)
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"
    return value.name.removeprefix(prefix).lower()


def _api_values(message_type: descriptor.Descriptor, document: dict[str, Any]) -> dict[str, Any]:
    for field in message_type.fields:
        if field.name not in document:
            continue
        value = document[field.name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            continue  # no map field carries enums or 64-bit numbers
        convert: Any = None
        if field.enum_type is not None:
            enum = field.enum_type

            def convert(item: Any, enum: descriptor.EnumDescriptor = enum) -> Any:
                return enum_name(enum, item)

        elif field.type in _INTEGERS:
            convert = int
        elif field.message_type is not None and field.message_type.full_name not in _WELL_KNOWN:
            nested = field.message_type

            def convert(item: Any, nested: descriptor.Descriptor = nested) -> Any:
                return _api_values(nested, item)

        if convert is not None:
            is_list = isinstance(value, list)
            document[field.name] = [convert(v) for v in value] if is_list else convert(value)
    return document


def message_dict(message: Message) -> dict[str, Any]:
    """``message`` as scripts read it: the .proto field names (snake_case) with every field
    present, so the shape is stable; numbers as JSON numbers (the proto3 JSON mapping writes
    64-bit ones as strings) and enum values as the lower-case names of the admin API."""
    document = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        use_integers_for_enums=True,
    )
    return _api_values(cast(descriptor.Descriptor, message.DESCRIPTOR), document)


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
