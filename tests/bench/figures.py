"""The figures of the targets table: one named value each, with the target set for it.

Scenarios add figures as they measure (``report.figures``); the summary prints them in that
order. A target is a comparison, never an assertion: the table says "pass" or "MISS" and the run
carries on, because a benchmark's job is to report, not to gate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """``value <op> threshold``, written as the target reads (e.g. "≤ 1.25×")."""

    op: str  # ">=" or "<="
    threshold: float
    # How the unit reads after the threshold when it differs from the figure's ("×", "%").
    suffix: str = ""

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def describe(self) -> str:
        symbol = "≥" if self.op == ">=" else "≤"
        return f"{symbol} {self.threshold:,.{_decimals(self.threshold)}f}{self.suffix}"


def at_least(threshold: float, suffix: str = "") -> Target:
    return Target(">=", threshold, suffix)


def below(threshold: float, suffix: str = "") -> Target:
    return Target("<=", threshold, suffix)


def _decimals(value: float) -> int:
    return 0 if float(value).is_integer() else 2


@dataclass(frozen=True)
class Figure:
    """One row of the summary table. ``value`` None: not measured, and ``note`` says why."""

    name: str
    value: float | None
    unit: str
    target: Target | None = None
    note: str = ""
    # A preformatted value for figures that are not one number ("56 / 81 / 77").
    text: str = ""
    # Other processes used the CPU while it was measured: the verdict says so, since a busy
    # machine moves a figure (even a ratio) more than most targets' margins.
    busy: bool = False

    @property
    def verdict(self) -> str:
        if self.target is None or self.value is None:
            return "-"
        verdict = "pass" if self.target.met(self.value) else "MISS"
        return f"{verdict} (busy)" if self.busy else verdict

    def shown_value(self) -> str:
        if self.text:
            return self.text
        if self.value is None:
            return "not measured"
        if abs(self.value) >= 100:
            return f"{self.value:,.0f}"
        if abs(self.value) >= 10:
            return f"{self.value:.1f}"
        return f"{self.value:.2f}"
