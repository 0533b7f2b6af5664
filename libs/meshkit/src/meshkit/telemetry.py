"""OpenTelemetry wiring, explicit and in one place.

Standard variables drive it: OTEL_TRACES_EXPORTER (otlp | console | none), OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_BSP_*.
W3C trace context travels in gRPC metadata and HTTP headers (the SDK's default propagator).
Health checks are never traced: they would drown the logins SREs look for.

Tracing is off when nothing would read a span (OTEL_TRACES_EXPORTER=none and no
OTEL_TRACES_SAMPLER): then no tracer provider is installed and the per-request code (the
gateway's server span, meshkit's gRPC interceptors, the asyncpg instrumentation) asks
``tracing_on()`` once and creates no span, context or propagation header at all. Request ids
(X-Request-ID) still tie a request's log lines together.
"""

from __future__ import annotations

import os
from typing import Any, overload

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from meshkit.config import ConfigError
from meshkit.workers import current

_EXPORTERS = ("otlp", "console", "none")
_provider: TracerProvider | None = None
# Set when setup_tracing turned tracing off: then tracing_on() answers without asking the API,
# whose get_tracer_provider() reads os.environ on every call while no provider is installed.
_off = False


def _exporter(name: str) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


@overload
def setup_tracing(service_name: str, *, processor: SpanProcessor) -> TracerProvider: ...


@overload
def setup_tracing(service_name: str, *, processor: None = None) -> TracerProvider | None: ...


def setup_tracing(
    service_name: str, *, processor: SpanProcessor | None = None
) -> TracerProvider | None:
    """Installs the global tracer provider for ``service_name`` (once per process), or none when
    tracing is off: ``none`` as the exporter and no OTEL_TRACES_SAMPLER (then nothing would ever
    read a span, and creating unread spans cost about a tenth of every request's CPU).

    ``processor`` replaces the exporter chosen by OTEL_TRACES_EXPORTER (tests pass an in-memory
    one). Returns the provider, or None when tracing is off."""
    global _provider
    if _provider is not None:
        return _provider
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip() or "otlp"
    if exporter_name not in _EXPORTERS:
        raise ConfigError(
            [f"OTEL_TRACES_EXPORTER is invalid: expected one of {', '.join(_EXPORTERS)}"]
        )
    identity = current()
    # Which process served: the replica's host, the worker's group and index (so a trace of a
    # service with several workers tells which one answered). An operator's own
    # service.instance.id (OTEL_RESOURCE_ATTRIBUTES, e.g. the pod's name) is kept.
    attributes: dict[str, str | int] = {
        "service.name": os.environ.get("OTEL_SERVICE_NAME", service_name),
        "idmesh.worker.index": identity.index,
        "process.pid": os.getpid(),
    }
    if "service.instance.id=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.instance.id"] = identity.instance_id
    resource = Resource.create(attributes)
    if processor is None and exporter_name == "none" and not os.environ.get("OTEL_TRACES_SAMPLER"):
        global _off
        _off = True
        return None
    provider = TracerProvider(resource=resource)
    if processor is not None:
        provider.add_span_processor(processor)
    else:
        exporter = _exporter(exporter_name)
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def tracing_on() -> bool:
    """Whether spans are made in this process: a real (SDK) tracer provider is installed, by
    setup_tracing or by a test. Cheap enough to ask per call (a global read and a type check)."""
    if _off:
        return False
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def unsampled(context: trace.SpanContext) -> bool:
    """Whether ``context`` belongs to a trace the sampler dropped: then every span under it
    records nothing (parent-based sampling), and the hops make none, only carry the context."""
    return context.is_valid and not context.trace_flags.sampled


def shutdown_tracing() -> None:
    """Flushes pending spans; called on graceful shutdown."""
    if _provider is not None:
        _provider.shutdown()


_asyncpg_instrumented = False


def instrument_asyncpg() -> None:
    """Spans for the PostgreSQL queries of sampled traces (statement text only: parameters are
    never recorded), when tracing is on; with it off, the instrumentation's wrapper would cost
    every query. Idempotent."""
    global _asyncpg_instrumented
    if not tracing_on() or _asyncpg_instrumented:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    class SampledQueries(AsyncPGInstrumentor):
        """The instrumentation prepares a span's name and attributes (it splits the whole
        statement into words) before the sampler is asked. In a trace the sampler dropped,
        most of them at a 10% ratio, the query runs without any of that: its span would record
        nothing."""

        async def _do_execute(self, func: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            if unsampled(trace.get_current_span().get_span_context()):
                return await func(*args, **kwargs)
            return await super()._do_execute(func, instance, args, kwargs)  # type: ignore[no-untyped-call]

    SampledQueries(capture_parameters=False).instrument()  # type: ignore[no-untyped-call]
    _asyncpg_instrumented = True


def current_trace_id() -> str:
    """The active trace id as 32 hex digits, or "" outside a trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""
