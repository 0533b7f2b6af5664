"""Tracing across the real processes, asserted on the spans they export over OTLP.

Issue requirement: "one HTTP request through the gateway that reaches directory yields ONE trace
whose spans chain gateway (server) → gRPC client → directory (server) → asyncpg query", with no
secret in any span and no span for health probes (docs/architecture.md "Tracing")."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e.tenants import SECRET_PATTERN, Tenant, create_tenant

pytestmark = pytest.mark.e2e

# The gateway traces its HTTP requests itself (gateway.tracing).
HTTP_SERVER = "gateway.http"
GRPC_CLIENT = "meshkit.client"
# meshkit traces gRPC itself: channels.CallObserver (client) and call_guard (server).
GRPC_SERVER = "meshkit.server"
ASYNCPG = "opentelemetry.instrumentation.asyncpg"
GET_ACCOUNT = "/idmesh.directory.v1.DirectoryService/GetAccount"
VERIFY_API_TOKEN = "/idmesh.auth.v1.AuthService/VerifyApiToken"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
PROBES = ("/healthz", "/readyz")
# Where the request's path is recorded: url.path (stable semantic conventions).
PATH_ATTRIBUTES = ("url.path",)


def request_path(span: ReceivedSpan) -> str:
    for key in PATH_ATTRIBUTES:
        value = span.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """The parent, the grandparent, ... of ``span`` among ``spans``."""
    by_id = {s.span_id: s for s in spans}
    chain: list[ReceivedSpan] = []
    current = by_id.get(span.parent_span_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = by_id.get(current.parent_span_id)
    return chain


def one(spans: list[ReceivedSpan], description: str, trace: list[ReceivedSpan]) -> ReceivedSpan:
    summary = "\n".join(f"  {s.service} {s.kind} {s.name}" for s in trace)
    assert len(spans) == 1, f"expected one {description}, found {len(spans)} in:\n{summary}"
    return spans[0]


def trace_of_request(spans: list[ReceivedSpan], path: str) -> list[ReceivedSpan] | None:
    """The trace of the gateway request to ``path`` once it holds spans from the gateway's gRPC
    client, auth, and directory's server and queries; None while some are still in flight."""
    roots = [
        s
        for s in spans
        if s.service == "gateway" and s.kind == "SERVER" and path in request_path(s)
    ]
    if not roots:
        return None
    trace = [s for s in spans if s.trace_id == roots[0].trace_id]
    seen = {(s.service, s.scope) for s in trace}
    wanted = {
        ("gateway", GRPC_CLIENT),
        ("auth", GRPC_SERVER),
        ("directory", GRPC_SERVER),
        ("directory", ASYNCPG),
    }
    return trace if wanted <= seen else None


async def call_demo_route(mesh: Mesh, tenant: Tenant) -> str:
    path = f"/api/v1/accounts/{tenant.name}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(f"{mesh.gateway_url}{path}", headers=tenant.headers) as response,
    ):
        assert response.status == 200, await response.text()
    return path


async def test_one_request_through_the_gateway_to_directory_is_one_chained_trace(
    mesh: Mesh, otlp_receiver: OtlpReceiver
) -> None:
    """Issue requirement: gateway SERVER → gateway CLIENT (DirectoryService/GetAccount) →
    directory SERVER (parent: that client span) → asyncpg spans under it, all in ONE trace, with
    the token check (AuthService/VerifyApiToken) in the same trace; exported across processes."""
    tenant = await create_tenant(mesh)
    path = await call_demo_route(mesh, tenant)

    trace = await otlp_receiver.wait_for(lambda spans: trace_of_request(spans, path), within=15)

    gateway_server = one(
        [s for s in trace if s.service == "gateway" and s.kind == "SERVER"],
        "gateway SERVER span",
        trace,
    )
    assert gateway_server.scope == HTTP_SERVER
    assert gateway_server.parent_span_id == "", "the request's span must be the trace's root"
    assert [s for s in trace if not s.parent_span_id] == [gateway_server], "one root, one trace"

    gateway_clients = {
        name: one(
            [s for s in trace if s.service == "gateway" and s.kind == "CLIENT" and s.name == name],
            f"gateway CLIENT span {name}",
            trace,
        )
        for name in (VERIFY_API_TOKEN, GET_ACCOUNT)
    }
    for client in gateway_clients.values():
        assert gateway_server in ancestors(client, trace), client.name

    auth_server = one(
        [s for s in trace if s.service == "auth" and s.kind == "SERVER"], "auth SERVER span", trace
    )
    assert auth_server.name == VERIFY_API_TOKEN
    assert auth_server.parent_span_id == gateway_clients[VERIFY_API_TOKEN].span_id

    directory_server = one(
        [s for s in trace if s.service == "directory" and s.kind == "SERVER"],
        "directory SERVER span",
        trace,
    )
    assert directory_server.name == GET_ACCOUNT
    assert directory_server.parent_span_id == gateway_clients[GET_ACCOUNT].span_id

    queries = [s for s in trace if s.service == "directory" and s.scope == ASYNCPG]
    assert queries, "directory's GetAccount must show its PostgreSQL query"
    for query in queries:
        assert query.kind == "CLIENT"
        assert directory_server in ancestors(query, trace), query.name
        assert query.attributes.get("db.system") == "postgresql"


async def test_no_span_of_any_process_carries_the_bearer_token(
    mesh: Mesh, otlp_receiver: OtlpReceiver
) -> None:
    """No secrets, tokens or assertion bodies in spans (docs/architecture.md "Tracing"): the bearer
    secret appears in no span name, attribute, event, status or resource of any service."""
    tenant = await create_tenant(mesh)
    path = await call_demo_route(mesh, tenant)
    await otlp_receiver.wait_for(lambda spans: trace_of_request(spans, path), within=15)
    # The random part alone is the secret material; the token id before it is no secret (and
    # spans carry it on purpose, as idmesh.token.id).
    layout = SECRET_PATTERN.fullmatch(tenant.token)
    assert layout is not None
    secret_material = layout.group("random")
    leaks = [
        f"{s.service} {s.name}"
        for s in otlp_receiver.spans
        if any(secret_material in text for text in s.texts())
    ]
    assert leaks == []


async def test_health_probes_produce_no_spans(mesh: Mesh, otlp_receiver: OtlpReceiver) -> None:
    """Health checks are excluded from tracing (docs/architecture.md "Tracing"): /healthz,
    /readyz and the grpc.health.v1 checks /readyz makes to every peer leave no span in any
    process."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for probe in PROBES:
            async with http.get(f"{mesh.gateway_url}{probe}") as response:
                assert response.status == 200
    # Spans leave each process in the order they end: once a later request's spans from the
    # gateway and directory have arrived, any probe span would have arrived before them.
    tenant = await create_tenant(mesh)
    path = await call_demo_route(mesh, tenant)
    await otlp_receiver.wait_for(lambda spans: trace_of_request(spans, path), within=15)
    probe_spans = [
        f"{s.service} {s.kind} {s.name} {request_path(s)}"
        for s in otlp_receiver.spans
        if s.name == HEALTH_CHECK
        or "grpc.health" in s.name
        or any(probe in s.name or request_path(s).startswith(probe) for probe in PROBES)
    ]
    assert probe_spans == []


async def test_scim_spans_and_access_log_lines_name_the_resource_route_and_errors_carry_the_trace(
    mesh: Mesh, otlp_receiver: OtlpReceiver
) -> None:
    """SCIM has one catch-all route (every path authenticated first), but its spans and
    access-log lines name the resource route, never one `/scim/v2/{tail}` nor a user's id; a
    SCIM error body carries the request's trace id as every error body does (README,
    "Tracing"), at the end of `detail` since the RFC 7644 Error schema has no member for it:
    from the scim service (404) and from the gateway itself (401)."""
    tenant = await create_tenant(mesh)
    missing = "00000000-0000-4000-8000-00000000beef"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(
            f"{mesh.gateway_url}/scim/v2/Users/{missing}", headers=tenant.headers
        ) as got:
            assert got.status == 404
            not_found = await got.json(content_type=None)
        async with http.get(f"{mesh.gateway_url}/scim/v2/Groups", headers=tenant.headers) as got:
            assert got.status == 200
        async with http.get(f"{mesh.gateway_url}/scim/v2/Groups") as got:
            assert got.status == 401
            unauthenticated = await got.json(content_type=None)

    found = re.search(r" \(trace_id ([0-9a-f]{32})\)$", not_found["detail"])
    assert found, not_found
    assert set(not_found) == {"schemas", "status", "detail"}
    assert re.search(r" \(trace_id [0-9a-f]{32}\)$", unauthenticated["detail"])
    assert set(unauthenticated) == {"schemas", "status", "detail"}

    trace_id = found.group(1)

    def server_span(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
        """The gateway's span of the 404 above, found by the trace id its body named."""
        mine = [
            s
            for s in spans
            if s.trace_id == trace_id and s.service == "gateway" and s.kind == "SERVER"
        ]
        return mine[0] if mine else None

    def gateway_span_names(spans: list[ReceivedSpan]) -> set[str] | None:
        names = {s.name for s in spans if s.service == "gateway" and s.kind == "SERVER"}
        return names if "GET /scim/v2/Groups" in names else None

    user_span = await otlp_receiver.wait_for(server_span, within=15)
    assert user_span.name == "GET /scim/v2/Users/{id}"
    assert user_span.attributes.get("http.route") == "/scim/v2/Users/{id}"
    names = await otlp_receiver.wait_for(gateway_span_names, within=15)
    assert not any("{tail}" in name for name in names)
    log = (mesh.log_path("gateway") or Path("-")).read_text()
    assert "GET /scim/v2/Users/{id} 404" in log
    assert "GET /scim/v2/Groups 200" in log
    assert "{tail}" not in log
    assert missing not in log
