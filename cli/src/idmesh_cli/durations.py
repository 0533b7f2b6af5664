"""Token lifetimes on the command line: ``--expires-in 90d``."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

_LIFETIME = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expires_in(raw: str) -> timedelta:
    """A positive lifetime: a whole number followed by m (minutes), h (hours), d (days) or
    w (weeks), e.g. "30m", "12h", "90d", "52w". Raises argparse.ArgumentTypeError (exit 2)."""
    match = _LIFETIME.fullmatch(raw.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid lifetime {raw!r}: expected a positive number followed by m, h, d or w "
            "(e.g. 90d)"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
