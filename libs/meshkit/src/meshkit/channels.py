"""Client channels to peer services: a default deadline and a span on every call, health checks,
and calls spread over every worker of the peer (meshkit.channel_pool)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from meshkit.channel_pool import ChannelPool, probe_worker
from meshkit.server import MAX_MESSAGE_BYTES
from meshkit.telemetry import tracing_on, unsampled

DEFAULT_TIMEOUT_SECONDS = 5.0


_HEALTH_PREFIX = "/grpc.health.v1.Health/"


class CallObserver(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Every outgoing call gets the default deadline when it has none (no call may wait
    forever) and carries the W3C trace context in its metadata. Unary calls also get a CLIENT
    span per the RPC semantic conventions, named like the server's span. One interceptor does
    all of it because each layer costs every call; the generic OpenTelemetry interceptors cost
    more CPU per call than our handlers (health checks, and every call while tracing is off:
    deadline only, no span and no context)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._tracer = trace.get_tracer("meshkit.client")

    def _details(
        self, details: grpc.aio.ClientCallDetails, metadata: list[tuple[str, str]] | None
    ) -> grpc.aio.ClientCallDetails:
        timeout = self.seconds if details.timeout is None else details.timeout
        if metadata is None and timeout is details.timeout:
            return details
        merged = details.metadata
        if metadata:
            merged = grpc.aio.Metadata(*(details.metadata or ()), *metadata)
        return grpc.aio.ClientCallDetails(
            details.method, timeout, merged, details.credentials, details.wait_for_ready
        )

    @staticmethod
    def _context() -> list[tuple[str, str]]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return list(carrier.items())

    async def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = _method_name(client_call_details.method)
        if method.startswith(_HEALTH_PREFIX) or not tracing_on():
            return await continuation(self._details(client_call_details, None), request)
        if unsampled(trace.get_current_span().get_span_context()):
            # A trace the sampler dropped: a client span would record nothing. The context
            # still travels, so the peer knows the trace and that it is not sampled.
            return await continuation(self._details(client_call_details, self._context()), request)
        service, _, name = method[1:].rpartition("/")
        with self._tracer.start_as_current_span(
            method,
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            call = await continuation(self._details(client_call_details, self._context()), request)
            code = await call.code()
            if span.is_recording():
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code is not grpc.StatusCode.OK:
                    span.set_status(Status(StatusCode.ERROR, code.name))
            return call

    async def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        # A stream outlives this method: it carries the context, and the server's span is its
        # record in the trace.
        context = self._context() if tracing_on() else None
        return await continuation(self._details(client_call_details, context), request)


def _method_name(method: str | bytes) -> str:
    return method.decode() if isinstance(method, bytes) else method


def connect(
    address: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, spread: bool = True
) -> grpc.aio.Channel:
    """A channel to ``address`` (host:port, or dns:///name:port for every replica behind a
    headless Kubernetes Service, balanced round robin). With ``spread`` (services' long-lived
    channels) it is a pool of connections whose calls reach each of the peer's workers evenly
    (meshkit.channel_pool); without (a one-shot command), one connection."""
    observer = CallObserver(timeout)
    options: list[tuple[str, Any]] = [
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        # Fail fast while a peer restarts instead of queueing behind exponential back-off.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2_000),
    ]
    if not spread:
        return grpc.aio.insecure_channel(address, interceptors=[observer], options=options)
    # Each channel of the pool its own connection: by default channels with the same target and
    # options share one.
    options.append(("grpc.use_local_subchannel_pool", 1))
    return ChannelPool(
        address,
        lambda: grpc.aio.insecure_channel(address, interceptors=[observer], options=options),
    )


async def is_serving(channel: grpc.aio.Channel, service: str = "", deadline: float = 2.0) -> bool:
    """Whether the peer's standard health service reports ``service`` as SERVING."""
    probed = await probe_worker(channel, service, deadline)
    return probed is not None and probed[0]
