"""One login is one trace: gateway → auth → the IdP's token and JWKS endpoints (HTTP client
spans) → directory → PostgreSQL, with ``idmesh.login.outcome`` on the gateway's callback span and
no code, token, secret or claim value anywhere in the spans (brief, issue 4 "Tracing")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.idps.oidc import tokens
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import Tenant, browser
from tests.integration.sso.test_sso_login_flow import _authorize, _callback, _start


def _callback_trace(spans: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    finished = spans.get_finished_spans()
    (root,) = [
        s for s in finished
        if s.kind is SpanKind.SERVER and s.name == "GET /sso/oidc/{connection}/callback"
    ]  # fmt: skip
    return root, [s for s in finished if s.context.trace_id == root.context.trace_id]


async def test_a_login_is_one_trace_through_every_hop(
    gateway_url: str,
    tenant: Callable[..., Awaitable[Tenant]],
    idp: FakeIdp,
    spans: InMemorySpanExporter,
) -> None:
    """The callback's trace holds auth's FinishOidcLogin, the token and JWKS HTTP calls,
    directory's ProvisionLogin and its SQL; the outcome attribute says success."""
    made = await tenant()
    idp.signing_key = tokens.rsa_key("k-trace")  # a kid no cache has seen: JWKS is fetched
    idp.published = [idp.signing_key]
    client = browser()
    try:
        callback = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        spans.clear()
        response = await _callback(client, callback)
        secret = next(c.value for c in client.cookie_jar if c.key == "idmesh_session")
    finally:
        await client.close()
    assert response.status == 303
    root, trace = _callback_trace(spans)
    assert root.attributes is not None
    assert root.attributes["idmesh.login.outcome"] == "success"
    names = {s.name for s in trace}
    assert "/idmesh.auth.v1.AuthService/FinishOidcLogin" in names
    assert "/idmesh.directory.v1.DirectoryService/ProvisionLogin" in names
    http_clients = [s for s in trace if s.kind is SpanKind.CLIENT and s.name in ("GET", "POST")]
    urls = {str((s.attributes or {}).get("url.full") or (s.attributes or {}).get("http.url"))
            for s in http_clients}  # fmt: skip
    assert f"{idp.issuer}/token" in urls
    assert f"{idp.issuer}/jwks" in urls
    assert any((s.attributes or {}).get("db.system") == "postgresql" for s in trace)
    # Nothing secret anywhere in the trace.
    query = parse_qs(urlsplit(callback).query)
    code, state = query["code"][0], query["state"][0]
    forbidden = [code, state, secret, idp.client_secret, f"alice@{idp.email_domain}"]
    for span in trace:
        text = str(span.attributes) + str([e.attributes for e in span.events]) + span.name
        for value in forbidden:
            assert value not in text, f"{span.name} leaks a secret"


async def test_a_failed_login_is_marked_for_the_collectors_tail_sampling(
    gateway_url: str,
    tenant: Callable[..., Awaitable[Tenant]],
    idp: FakeIdp,
    spans: InMemorySpanExporter,
) -> None:
    """infra/otel keeps every trace whose callback span says idmesh.login.outcome=failure."""
    made = await tenant()
    idp.forge = lambda i, g: tokens.unsigned(tokens.claims(i.issuer, g.client_id, g.nonce))
    client = browser()
    try:
        callback = await _authorize(client, await _start(client, gateway_url, made.connection_id))
        spans.clear()
        response = await _callback(client, callback)
    finally:
        await client.close()
    assert response.status == 403
    root, trace = _callback_trace(spans)
    assert root.attributes is not None
    assert root.attributes["idmesh.login.outcome"] == "failure"
    (finish,) = [s for s in trace if s.name == "/idmesh.auth.v1.AuthService/FinishOidcLogin"
                 and s.kind is SpanKind.SERVER]  # fmt: skip
    assert finish.attributes is not None
    assert finish.attributes["idmesh.login.reason"] == "alg_not_allowed"
