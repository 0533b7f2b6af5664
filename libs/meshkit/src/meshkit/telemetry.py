"""OpenTelemetry wiring, explicit and in one place.

Standard variables drive it: OTEL_TRACES_EXPORTER (otlp | console | none), OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_BSP_*.
W3C trace context travels in gRPC metadata and HTTP headers (the SDK's default propagator).
Health checks are never traced: they would drown the logins SREs look for.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from meshkit.config import ConfigError
from meshkit.workers import current

_EXPORTERS = ("otlp", "console", "none")
_provider: TracerProvider | None = None


def _exporter(name: str) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def setup_tracing(service_name: str, *, processor: SpanProcessor | None = None) -> TracerProvider:
    """Installs the global tracer provider for ``service_name`` (once per process).

    ``processor`` replaces the exporter chosen by OTEL_TRACES_EXPORTER (tests pass an in-memory
    one). With ``none`` and no OTEL_TRACES_SAMPLER, nothing would ever read a recorded span, so
    spans are sampled off: they still carry valid trace ids (into logs, error pages and
    downstream calls) but skip the recording work (~20% of a SCIM request's CPU)."""
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
    # service with several workers tells which one answered).
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", service_name),
            "service.instance.id": identity.instance_id,
            "idmesh.worker.index": identity.index,
            "process.pid": os.getpid(),
        }
    )
    unread = processor is None and exporter_name == "none"
    sampler = ALWAYS_OFF if unread and not os.environ.get("OTEL_TRACES_SAMPLER") else None
    provider = TracerProvider(resource=resource, sampler=sampler)
    if processor is not None:
        provider.add_span_processor(processor)
    else:
        exporter = _exporter(exporter_name)
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    """Flushes pending spans; called on graceful shutdown."""
    if _provider is not None:
        _provider.shutdown()


def instrument_asyncpg() -> None:
    """Spans for every PostgreSQL query (statement text only: parameters are never recorded)."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def current_trace_id() -> str:
    """The active trace id as 32 hex digits, or "" outside a trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""
