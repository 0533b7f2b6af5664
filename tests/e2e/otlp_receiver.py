"""A tiny OTLP/gRPC trace receiver: what an OpenTelemetry collector sees, inside a test.

The mesh processes export with their real OTLP exporter (OTEL_TRACES_EXPORTER=otlp,
OTEL_EXPORTER_OTLP_ENDPOINT=<receiver.endpoint>), so a test asserts on the spans exactly as they
leave each process, across process boundaries, with nothing mocked.

    receiver = OtlpReceiver()
    await receiver.start()
    env = receiver.exporter_env()
    ...
    spans = await receiver.wait_for(lambda spans: [s for s in spans if ...] or None)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

T = TypeVar("T")

# OTLP's Span.SpanKind numbers, by the names the SDK and our assertions use.
_KINDS = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "UNSPECIFIED",
    trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL",
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _attributes(pairs: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, flattened with its resource's service name and its scope."""

    service: str
    scope: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: tuple[tuple[str, dict[str, Any]], ...]
    status_message: str

    def texts(self) -> list[str]:
        """Every string this span carries: name, attributes, events, status, resource; what a
        secret-leak check has to search."""
        found = [self.name, self.status_message]

        def walk(value: Any) -> None:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, bytes):
                found.append(value.decode(errors="replace"))
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, dict):
                for key, item in value.items():
                    found.append(str(key))
                    walk(item)

        walk(self.attributes)
        walk(self.resource)
        for name, attributes in self.events:
            found.append(name)
            walk(attributes)
        return found


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    async def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver._add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """Collects every span exported to it over OTLP/gRPC on 127.0.0.1 (an ephemeral port)."""

    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._changed = asyncio.Event()
        self._server: grpc.aio.Server | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exporter_env(self, schedule_delay_ms: int = 100) -> dict[str, str]:
        """The standard variables that make a process export its spans here, promptly."""
        return {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_BSP_SCHEDULE_DELAY": str(schedule_delay_ms),
        }

    async def start(self) -> None:
        server = grpc.aio.server()
        register: Any = trace_service_pb2_grpc.add_TraceServiceServicer_to_server  # untyped
        register(_TraceService(self), server)
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None

    def _add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self._spans.append(
                        ReceivedSpan(
                            service=service,
                            scope=scope_spans.scope.name,
                            name=span.name,
                            kind=_KINDS.get(span.kind, str(span.kind)),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=_attributes(span.attributes),
                            resource=resource,
                            events=tuple(
                                (event.name, _attributes(event.attributes)) for event in span.events
                            ),
                            status_message=span.status.message,
                        )
                    )
        self._changed.set()

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in arrival order."""
        return list(self._spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self._spans if span.trace_id == trace_id]

    async def wait_for(
        self, probe: Callable[[list[ReceivedSpan]], T | None], within: float = 10.0
    ) -> T:
        """Calls ``probe`` with every span received so far, again after each export, until it
        returns something truthy, and returns that. TimeoutError after ``within`` seconds, with
        a summary of what did arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            self._changed.clear()
            result = probe(self.spans)
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"the expected spans did not arrive within {within:g}s;"
                    f" {len(self._spans)} received:\n{self.summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def summary(self, spans: Iterable[ReceivedSpan] | None = None) -> str:
        """One line per span (service, kind, name, ids): for assertion messages."""
        return "\n".join(
            f"{s.service:<10} {s.kind:<7} {s.name:<60} trace={s.trace_id[:8]} "
            f"span={s.span_id[:8]} parent={s.parent_span_id[:8] or '-'}"
            for s in (self.spans if spans is None else spans)
        )
