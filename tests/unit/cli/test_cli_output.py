"""idmesh_cli.output and token status: what people and scripts read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.tokens import token_status

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def test_tables_align_columns_on_the_widest_cell() -> None:
    """Human output: aligned columns, no trailing spaces."""
    assert table(["NAME", "ID"], [["acme", "1"], ["globex-corporation", "22"]]) == (
        "NAME                ID\nacme                1\nglobex-corporation  22"
    )


def test_control_characters_from_the_server_cannot_redraw_the_terminal() -> None:
    """Terminal safety: escape sequences from stored text are neutralised."""
    assert table(["D"], [["evil\x1b[2Jtext\nmore"]]) == "D\nevil?[2Jtext?more"


def test_timestamps_are_utc_iso_seconds_or_a_placeholder() -> None:
    """Times are shown in UTC, to the second; an unset time is a placeholder."""
    assert timestamp(_stamp(NOW.replace(microsecond=123))) == "2026-11-22T20:00:00Z"
    assert timestamp(timestamp_pb2.Timestamp()) == "-"
    assert timestamp(timestamp_pb2.Timestamp(), unset="never") == "never"


def test_json_uses_proto_field_names_and_every_plain_field() -> None:
    """Stable keys for scripts: display_name even when empty, snake_case as in the .proto."""
    document = message_dict(directory_pb2.Account(id="1", name="acme"))
    assert document["display_name"] == ""
    assert document["name"] == "acme"
    assert "create_time" not in document  # a message field: absent means unset


def test_token_status_says_revoked_expired_or_active() -> None:
    """Revocation wins over expiry; an expiry in the past is expired."""
    token = auth_pb2.ApiToken(id="t")
    assert token_status(token, NOW) == "active"
    token.expire_time.CopyFrom(_stamp(NOW + timedelta(days=1)))
    assert token_status(token, NOW) == "active"
    token.expire_time.CopyFrom(_stamp(NOW - timedelta(seconds=1)))
    assert token_status(token, NOW) == "expired"
    token.revoke_time.CopyFrom(_stamp(NOW - timedelta(days=2)))
    assert token_status(token, NOW) == "revoked"
