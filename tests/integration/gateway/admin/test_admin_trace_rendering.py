"""How the console shows a login trace: the decoded ID token claims as a table (what the
Torque guide's debugging section has admins paste into a JWT decoder), every value escaped,
and the reason in plain words with what to change at the IdP."""

from __future__ import annotations

from google.protobuf import struct_pb2

from gateway.admin.explain import explain
from gateway.admin.guard import Admin
from gateway.admin.layout import NAV
from gateway.admin.traces import claim_rows
from gateway.pages.templates import render_text
from idmesh.auth.v1 import auth_pb2


def _render(trace: auth_pb2.LoginTrace) -> str:
    admin = Admin("a", "u", "boss@example.com", frozenset({"*"}), "0" * 64)
    return render_text(
        "admin/trace.html",
        {
            "admin": admin,
            "nav": "traces",
            "nav_items": NAV,
            "title": "Sign-in attempt",
            "lead": "",
            "crumbs": (),
            "note": "",
            "error": "",
            "trace": trace,
            "outcome": "failure",
            "badge_kind": "bad",
            "connection": "Okta",
            "explanation": explain(trace.reason),
            "claims": claim_rows(trace),
            "delta": "—",
        },
    )


def test_a_traces_claims_are_a_readable_table_with_every_value_escaped() -> None:
    """Torque guide, debugging: the decoded claims (groups, space_name, space_role) are shown
    by name; an IdP-sent value cannot become markup (the templates autoescape)."""
    claims = struct_pb2.Struct()
    claims.update(
        {
            "email": "ada@example.com",
            "groups": ["5d2f6c3a", "Engineering"],
            "space_name": "<script>alert(1)</script>",
            "nonce": "[redacted]",
        }
    )
    trace = auth_pb2.LoginTrace(
        outcome=auth_pb2.LOGIN_OUTCOME_FAILURE,
        reason="nonce_mismatch",
        stage="id_token",
        claims=claims,
    )
    html = _render(trace)
    assert "<caption>Decoded claims of the ID token (secrets redacted)</caption>" in html
    assert '<th scope="row"><code>groups</code></th><td>[&#34;5d2f6c3a&#34;, ' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "nonce_mismatch" in html
    assert "id_token" in html


def test_a_known_reason_is_explained_with_what_to_change_at_the_idp() -> None:
    """Issue 13: "the reason in plain words and what the admin should change at the IdP", e.g.
    Entra's groups overage: Token configuration, groups assigned to the application."""
    html = _render(auth_pb2.LoginTrace(reason="groups_overage", stage="claims"))
    assert "What happened" in html
    assert "Token configuration" in html
    assert "Groups assigned to the application" in html
