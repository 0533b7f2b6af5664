"""meshkit.server and meshkit.channels over a real loopback gRPC connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from meshkit.channels import connect, is_serving
from meshkit.errors import InvalidArgument, from_rpc_error
from meshkit.server import GrpcServer
from meshkit.telemetry import setup_tracing

SERVICE = "idmesh.test.v1.Probe"
Behaviour = Callable[[struct_pb2.Struct, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


def _probe_handlers(behaviours: dict[str, Behaviour]) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            name: grpc.unary_unary_rpc_method_handler(
                fn,
                request_deserializer=struct_pb2.Struct.FromString,
                response_serializer=struct_pb2.Struct.SerializeToString,
            )
            for name, fn in behaviours.items()
        },
    )


async def _invalid(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    raise InvalidArgument("must be an IANA time zone", field="user.timezone")


async def _crash(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    raise RuntimeError("password=hunter2 leaked from a bug")


async def _database_down(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    raise asyncpg.CannotConnectNowError("the database system is starting up")


async def _unstorable(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    raise asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')


async def _slow(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    await asyncio.sleep(5)
    return request


async def _echo(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    return request


async def _trace_here(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
    """The trace current inside the server: its id and whether it is sampled."""
    here = trace.get_current_span().get_span_context()
    return struct_pb2.Struct(
        fields={
            "trace_id": struct_pb2.Value(string_value=format(here.trace_id, "032x")),
            "sampled": struct_pb2.Value(bool_value=here.trace_flags.sampled),
        }
    )


@pytest.fixture
async def probe_server() -> AsyncIterator[GrpcServer]:
    server = GrpcServer("127.0.0.1", 0, drain_seconds=0.3, grace_seconds=1)
    handlers = _probe_handlers(
        {
            "Invalid": _invalid,
            "Crash": _crash,
            "DatabaseDown": _database_down,
            "Unstorable": _unstorable,
            "Slow": _slow,
            "Echo": _echo,
            "TraceHere": _trace_here,
        }
    )
    server.add_service(SERVICE, lambda s: s.add_generic_rpc_handlers((handlers,)))
    await server.start()
    yield server
    await server.server.stop(0)


async def _call(server: GrpcServer, method: str, deadline: float = 5.0) -> struct_pb2.Struct:
    async with connect(f"127.0.0.1:{server.port}", timeout=deadline) as channel:
        call = channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=struct_pb2.Struct.SerializeToString,
            response_deserializer=struct_pb2.Struct.FromString,
        )
        response: struct_pb2.Struct = await call(struct_pb2.Struct())
        return response


async def test_a_service_error_reaches_the_caller_with_its_code_and_field(
    probe_server: GrpcServer,
) -> None:
    """docs/architecture.md Errors: one interceptor maps the ServiceError tree to gRPC codes."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(probe_server, "Invalid")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    rebuilt = from_rpc_error(caught.value)
    assert (rebuilt.field, rebuilt.message) == ("user.timezone", "must be an IANA time zone")


async def test_an_unexpected_exception_becomes_internal_with_nothing_leaked(
    probe_server: GrpcServer,
) -> None:
    """Issue 2: an unexpected exception → INTERNAL "internal error" with nothing leaked."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(probe_server, "Crash")
    assert caught.value.code() is grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    assert "hunter2" not in str(caught.value.trailing_metadata())


async def test_a_database_connection_failure_is_unavailable_not_internal(
    probe_server: GrpcServer,
) -> None:
    """A restarting database is retryable: callers answer 503 + Retry-After, not 500."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(probe_server, "DatabaseDown")
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_value_the_database_cannot_store_is_the_callers_mistake(
    probe_server: GrpcServer,
) -> None:
    """A NUL character in a string is a 400 for the client, never a 500 (issue 8 hostile input)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(probe_server, "Unstorable")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "0x00" not in (caught.value.details() or "")


async def test_every_call_gets_a_default_deadline(probe_server: GrpcServer) -> None:
    """docs/architecture.md Async hygiene: every outgoing call has a deadline."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(probe_server, "Slow", deadline=0.2)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED


async def test_health_reports_serving_for_the_server_and_each_service(
    probe_server: GrpcServer,
) -> None:
    async with connect(f"127.0.0.1:{probe_server.port}") as channel:
        assert await is_serving(channel)
        assert await is_serving(channel, SERVICE)
        assert not await is_serving(channel, "idmesh.unknown.v1.Nothing")


async def test_shutdown_reports_not_serving_before_it_stops_accepting_calls() -> None:
    """Issue 2: graceful shutdown on SIGTERM — NOT_SERVING first, then drain."""
    server = GrpcServer("127.0.0.1", 0, drain_seconds=0.5, grace_seconds=1)
    handlers = _probe_handlers({"Echo": _echo})
    server.add_service(SERVICE, lambda s: s.add_generic_rpc_handlers((handlers,)))
    await server.start()
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.1)
    async with connect(f"127.0.0.1:{server.port}") as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""))
        assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
        # Still draining: calls in the meantime are answered.
        echoed = await channel.unary_unary(
            f"/{SERVICE}/Echo",
            request_serializer=struct_pb2.Struct.SerializeToString,
            response_deserializer=struct_pb2.Struct.FromString,
        )(struct_pb2.Struct(fields={"x": struct_pb2.Value(string_value="y")}))
        assert echoed["x"] == "y"
    await stopping


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Spans finished in this process; tracing is installed once per process, so when another
    suite installed it first our processor joins that provider."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider = setup_tracing("meshkit-tests", processor=processor)
    with provider.get_tracer("probe").start_as_current_span("probe"):
        pass
    if not exporter.get_finished_spans():
        provider.add_span_processor(processor)
    return exporter


async def test_a_call_is_one_server_span_child_of_the_callers_context(
    probe_server: GrpcServer, spans: InMemorySpanExporter
) -> None:
    """docs/architecture.md, Tracing: W3C trace context over gRPC metadata; RPC semantic
    conventions."""
    spans.clear()
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        await _call(probe_server, "Echo")
    finished = spans.get_finished_spans()
    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    [client] = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert server.name == client.name == f"/{SERVICE}/Echo"
    assert client.parent is not None
    assert client.parent.span_id == caller.get_span_context().span_id
    assert server.parent is not None
    assert server.parent.span_id == client.context.span_id
    assert server.context.trace_id == caller.get_span_context().trace_id
    assert dict(server.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": SERVICE,
        "rpc.method": "Echo",
        "rpc.grpc.status_code": 0,
    }


async def test_a_call_in_a_trace_the_sampler_dropped_records_no_span_but_carries_the_trace(
    probe_server: GrpcServer, spans: InMemorySpanExporter
) -> None:
    """W3C Trace Context §3.3 (sampled flag 0) with parent-based sampling: neither side would
    record a span, so neither makes one, and the server still runs in the caller's trace,
    unsampled, for the calls it makes and the lines it logs."""
    spans.clear()
    dropped = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    with trace.use_span(NonRecordingSpan(dropped)):
        here = await _call(probe_server, "TraceHere")
    assert here.fields["trace_id"].string_value == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert here.fields["sampled"].bool_value is False
    assert spans.get_finished_spans() == ()


async def test_failures_are_recorded_on_the_span_without_their_message(
    probe_server: GrpcServer, spans: InMemorySpanExporter
) -> None:
    """A caller's mistake is not a server error; a crash is, and its text stays in the log."""
    spans.clear()
    for method in ("Invalid", "Crash"):
        with pytest.raises(grpc.aio.AioRpcError):
            await _call(probe_server, method)
    by_method = {
        s.name.rsplit("/", 1)[1]: s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER
    }
    invalid, crash = by_method["Invalid"], by_method["Crash"]
    assert invalid.attributes is not None
    assert crash.attributes is not None
    assert invalid.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert invalid.status.status_code is StatusCode.UNSET
    assert crash.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert crash.status.status_code is StatusCode.ERROR
    assert "hunter2" not in str(crash.to_json())


async def test_health_checks_leave_no_span(
    probe_server: GrpcServer, spans: InMemorySpanExporter
) -> None:
    """Probes every few seconds would drown the logins SREs look for."""
    spans.clear()
    async with connect(f"127.0.0.1:{probe_server.port}") as channel:
        assert await is_serving(channel)
    assert [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == []
