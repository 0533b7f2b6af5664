"""meshkit.telemetry: what tracing costs when nothing reads the spans."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = """
from opentelemetry import trace
from meshkit.telemetry import current_trace_id, setup_tracing, tracing_on
setup_tracing("probe")
with trace.get_tracer("probe").start_as_current_span("work") as span:
    print(len(current_trace_id()), span.is_recording(), tracing_on())
"""


def _probe(**environ: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | environ
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    # The console exporter prints spans after our line.
    return result.stdout.splitlines()[0]


def test_without_an_exporter_tracing_is_off_and_no_span_has_an_id() -> None:
    """Nothing would read a span: no provider is installed, so the per-request code
    (tracing_on() False) makes no span and no trace context at all."""
    assert _probe(OTEL_TRACES_EXPORTER="none") == "0 False False"


def test_an_explicit_sampler_is_honoured_even_without_an_exporter() -> None:
    """The standard OTEL_TRACES_SAMPLER variable wins over meshkit's default."""
    assert _probe(OTEL_TRACES_EXPORTER="none", OTEL_TRACES_SAMPLER="always_on") == "32 True True"


def test_with_an_exporter_spans_are_recorded() -> None:
    assert _probe(OTEL_TRACES_EXPORTER="console") == "32 True True"
