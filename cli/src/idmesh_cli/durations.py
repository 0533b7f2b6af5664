"""Every duration argument of the CLI, with the configuration's grammar
(meshkit.config.parse_duration): a whole number and a unit, ms, s, m, h, d or w —
``--expires-in 90d``, ``traces tail --since 1h --interval 500ms``."""

from __future__ import annotations

import argparse
from datetime import timedelta

from meshkit.config import parse_duration as parse_seconds

EXAMPLES = "e.g. 500ms, 30s, 15m, 1h, 90d, 2w"
# A century: beyond it a date overflows, and no lifetime or look-back needs more.
LONGEST = timedelta(days=36525)


def parse_duration(raw: str) -> timedelta:
    """A positive duration with its unit. Raises argparse.ArgumentTypeError (exit 2)."""
    text = raw.strip().lower()
    try:
        seconds = parse_seconds(text) if text[-1:].isalpha() else 0.0
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= LONGEST.total_seconds():
        raise argparse.ArgumentTypeError(
            f"invalid duration {raw!r}: a positive whole number and a unit, {EXAMPLES} "
            "(at most a century)"
        )
    return timedelta(seconds=seconds)
