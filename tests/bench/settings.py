"""What one bench run measures and how, read from BENCH_* environment variables.

Defaults suit `make bench` on a developer machine; every figure printed says which settings
produced it, so a number is never read without its context.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A BENCH_* variable is unusable; the message names it."""


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _concurrencies(environ: Mapping[str, str]) -> tuple[int, ...]:
    raw = environ.get("BENCH_CONCURRENCY", "").strip() or "1,32"
    try:
        levels = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"BENCH_CONCURRENCY must be integers like 1,32, not {raw!r}") from None
    if not levels or min(levels) < 1:
        raise SettingsError("BENCH_CONCURRENCY needs at least one level, each at least 1")
    return levels


def _tracing(environ: Mapping[str, str]) -> bool:
    raw = environ.get("BENCH_TRACING", "").strip().lower() or "off"
    if raw in {"on", "1", "true", "yes"}:
        return True
    if raw in {"off", "0", "false", "no"}:
        return False
    raise SettingsError(f"BENCH_TRACING must be on or off, not {raw!r}")


@dataclass(frozen=True)
class Settings:
    # Measured seconds per row, after the warm-up.
    seconds: float
    # Seconds of load before measuring: connections, pool growth and caches settle first.
    warmup: float
    concurrencies: tuple[int, ...]
    # Workers sharing one client channel (one HTTP/2 connection).
    workers_per_channel: int
    # Off: OTEL_TRACES_EXPORTER=none (spans are still created, never exported).
    # On: the console exporter with the services' stdout sent to /dev/null, so export work is paid
    # without a collector in the loop.
    tracing: bool
    # CPU of processes outside the bench, in percent of one core, above which the machine is
    # "busy": waiting for idle stops below it, and a row measured above it is flagged.
    busy_cpu_percent: float
    # The longest wait for an idle machine before the run (then it proceeds and says so).
    idle_wait_seconds: float
    # The longest wait before each row; the run already waited once at the start.
    row_idle_wait_seconds: float
    # Consecutive idle seconds that count as "idle".
    idle_settle_seconds: float
    # How many times a row disturbed by other processes is measured again.
    busy_retries: int
    # Deadline of every request the load generator sends.
    call_timeout: float

    @property
    def exporter(self) -> str:
        return "console" if self.tracing else "none"

    def describe_tracing(self) -> str:
        # The load carries no trace context, so each request starts a root span that the
        # sampler decides on; its setting is inherited from the caller's environment.
        sampler = os.environ.get("OTEL_TRACES_SAMPLER", "").strip()
        chosen = f"sampler {sampler} {os.environ.get('OTEL_TRACES_SAMPLER_ARG', '')}".rstrip()
        if self.tracing:
            sampling = chosen if sampler else "sampler parentbased_always_on (SDK default)"
            return f"on (OTEL_TRACES_EXPORTER=console, services' output to /dev/null; {sampling})"
        # meshkit.telemetry samples everything off when nothing is exported and no sampler is set.
        sampling = chosen if sampler else "sampler always_off: trace ids kept, nothing recorded"
        return f"off (OTEL_TRACES_EXPORTER=none; {sampling})"


def trace_samples(environ: Mapping[str, str] | None = None) -> int:
    """BENCH_TRACE_SAMPLES: how many logins or creates the slowest-hop figures are taken over."""
    env = os.environ if environ is None else environ
    return int(_number(env, "BENCH_TRACE_SAMPLES", 50, 5))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default os.environ); raises SettingsError naming the
    first unusable variable."""
    env = os.environ if environ is None else environ
    return Settings(
        seconds=_number(env, "BENCH_SECONDS", 3.0, 0.5),
        warmup=_number(env, "BENCH_WARMUP", 1.0, 0.0),
        concurrencies=_concurrencies(env),
        workers_per_channel=int(_number(env, "BENCH_WORKERS_PER_CHANNEL", 8, 1)),
        tracing=_tracing(env),
        busy_cpu_percent=_number(env, "BENCH_BUSY_CPU", 15.0, 0.0),
        idle_wait_seconds=_number(env, "BENCH_IDLE_WAIT", 30.0, 0.0),
        row_idle_wait_seconds=_number(env, "BENCH_ROW_IDLE_WAIT", 5.0, 0.0),
        idle_settle_seconds=_number(env, "BENCH_IDLE_SETTLE", 3.0, 1.0),
        busy_retries=int(_number(env, "BENCH_BUSY_RETRIES", 0, 0)),
        call_timeout=_number(env, "BENCH_CALL_TIMEOUT", 5.0, 0.1),
    )
