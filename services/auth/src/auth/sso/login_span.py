"""What a login attempt writes on its span, the same for OIDC and SAML: which connection and
account, the stage reached and the outcome (the Collector's tail sampling keeps every trace whose
``idmesh.login.outcome`` is not success). Ids and reason codes only, never claims or tokens."""

from __future__ import annotations

from opentelemetry import trace

from auth.sso.models import Connection


def annotate(connection: Connection, protocol: str, stage: str) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("idmesh.connection.id", str(connection.id))
        span.set_attribute("idmesh.account.id", str(connection.account_id))
        span.set_attribute("idmesh.login.protocol", protocol)
        span.set_attribute("idmesh.login.stage", stage)


def outcome(result: str, reason: str = "", stage: str = "") -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("idmesh.login.outcome", result)
        if reason:
            span.set_attribute("idmesh.login.reason", reason)
            span.set_attribute("idmesh.login.stage", stage)
