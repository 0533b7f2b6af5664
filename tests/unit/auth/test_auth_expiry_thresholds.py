"""Which reminder an expiry time is due for: 90, 30 and 7 days before (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auth.expiry_watch import threshold

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (timedelta(days=120), None),
        (timedelta(days=90), 90),
        (timedelta(days=45), 90),
        (timedelta(days=30), 30),
        (timedelta(days=8), 30),
        (timedelta(days=7), 7),
        (timedelta(hours=1), 7),
        (timedelta(seconds=-1), None),
    ],
)
def test_the_reminder_is_the_nearest_threshold_not_yet_passed(
    left: timedelta, expected: int | None
) -> None:
    assert threshold(NOW + left, NOW) == expected
