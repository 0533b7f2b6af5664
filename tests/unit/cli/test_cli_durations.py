"""idmesh_cli.durations: the one parser of every duration argument (`token create
--expires-in`, `traces tail --since|--interval|--timeout`), with the configuration's grammar
(meshkit.config.parse_duration)."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from idmesh_cli.durations import parse_duration
from idmesh_cli.parser import build_parser


@pytest.mark.parametrize(
    ("raw", "duration"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("2s", timedelta(seconds=2)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("12h", timedelta(hours=12)),
        ("90d", timedelta(days=90)),
        ("52w", timedelta(weeks=52)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_a_duration_is_a_whole_number_and_a_unit(raw: str, duration: timedelta) -> None:
    """ms, s, m, h, d, w as in meshkit's durations; case and surrounding spaces do not matter."""
    assert parse_duration(raw) == duration


@pytest.mark.parametrize(
    "raw", ["", "0d", "90", "1y", "-1d", "1.5d", "d", "90 d", "9999999d", "0ms"]
)
def test_anything_else_is_refused_with_examples(raw: str) -> None:
    """Zero, bare numbers and unknown units are ambiguous; a token born expired is useless; a
    date beyond a century overflows."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 500ms, 30s, 15m, 1h, 90d"):
        parse_duration(raw)


def test_every_duration_argument_accepts_the_same_spellings() -> None:
    """`traces tail --since 1h` was refused while `token create --expires-in 90d` worked."""
    parser = build_parser()
    tail = parser.parse_args(
        ["traces", "tail", "--account", "a", "--since", "1h", "--interval", "500ms",
         "--timeout", "2d"]
    )  # fmt: skip
    assert (tail.since, tail.interval, tail.timeout) == (3600.0, 0.5, 172800.0)
    token = parser.parse_args(
        ["token", "create", "--account", "a", "--permission", "users:read", "--expires-in", "1h"]
    )
    assert token.expires_in == timedelta(hours=1)
