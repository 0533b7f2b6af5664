"""idmesh_cli.durations: --expires-in lifetimes."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from idmesh_cli.durations import parse_expires_in


@pytest.mark.parametrize(
    ("raw", "lifetime"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("90d", timedelta(days=90)),
        ("52w", timedelta(weeks=52)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_lifetimes_are_a_number_and_a_unit(raw: str, lifetime: timedelta) -> None:
    """m, h, d, w as in meshkit's durations; case and surrounding spaces do not matter."""
    assert parse_expires_in(raw) == lifetime


@pytest.mark.parametrize("raw", ["", "0d", "90", "1y", "-1d", "1.5d", "d", "90 d", "9999999d"])
def test_anything_else_is_refused_with_an_example(raw: str) -> None:
    """Zero, bare numbers and unknown units are ambiguous; a token born expired is useless."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 90d"):
        parse_expires_in(raw)
