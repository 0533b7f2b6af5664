"""meshkit.server's bound on calls in progress, over a real loopback gRPC connection. The
issue's requirement: "bounded queues ... so that overload sheds load instead of piling up
memory"."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from meshkit.channels import connect
from meshkit.server import DEFAULT_MAX_CONCURRENT_RPCS, GrpcServer

SERVICE = "idmesh.test.v1.Crowd"
METHOD = f"/{SERVICE}/Wait"


async def test_a_flooded_server_answers_resource_exhausted_instead_of_queueing() -> None:
    """Beyond ``max_concurrent_rpcs`` a call fails at once with RESOURCE_EXHAUSTED
    (google/rpc/code.proto); once a call ends, the next is served."""
    release, both_inside = asyncio.Event(), asyncio.Event()
    inside = 0

    async def wait(request: struct_pb2.Struct, context: Any) -> struct_pb2.Struct:
        nonlocal inside
        inside += 1
        if inside == 2:
            both_inside.set()
        await release.wait()
        return request

    handlers = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Wait": grpc.unary_unary_rpc_method_handler(
                wait,
                request_deserializer=struct_pb2.Struct.FromString,
                response_serializer=struct_pb2.Struct.SerializeToString,
            )
        },
    )
    server = GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1, max_concurrent_rpcs=2)
    server.add_service(SERVICE, lambda s: s.add_generic_rpc_handlers((handlers,)))
    port = await server.start()
    try:
        # One plain connection: a service's pooled channel probes its peer's health on first use,
        # and that probe would take one of the two slots this test counts.
        async with connect(f"127.0.0.1:{port}", timeout=30.0, spread=False) as channel:
            call = channel.unary_unary(
                METHOD,
                request_serializer=struct_pb2.Struct.SerializeToString,
                response_deserializer=struct_pb2.Struct.FromString,
            )
            held = [asyncio.ensure_future(call(struct_pb2.Struct())) for _ in range(2)]
            await asyncio.wait_for(both_inside.wait(), timeout=10)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(struct_pb2.Struct())
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            release.set()
            await asyncio.wait_for(asyncio.gather(*held), timeout=10)
            await call(struct_pb2.Struct())
    finally:
        await server.stop()


def test_the_default_bound_is_far_above_a_saturated_service() -> None:
    """The benchmark saturates a service at 32 calls at once (README, Performance): only a
    flood meets the default."""
    assert DEFAULT_MAX_CONCURRENT_RPCS >= 32 * 10
