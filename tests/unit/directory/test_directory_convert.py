"""directory.convert: the hand-rolled pieces of the GetUser hot path, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import timestamp_pb2

from directory.convert import timestamp


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2026, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(1970, 1, 1, tzinfo=UTC),
    ],
)
def test_timestamps_match_the_protobuf_conversion(moment: datetime) -> None:
    """timestamp() computes seconds and nanos itself for speed; it must agree with
    Timestamp.FromDatetime, before the epoch and in any offset included."""
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment)

    assert timestamp(moment) == expected


def test_an_absent_time_stays_absent() -> None:
    """last_login_time is NULL until the first sign-in; the message field stays unset."""
    assert timestamp(None) is None
