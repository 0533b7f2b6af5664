"""How /admin/traces shows a login trace: the decoded ID token claims as a table (what the
Torque guide's debugging section has admins paste into a JWT decoder), every value escaped."""

from __future__ import annotations

from google.protobuf import struct_pb2

from gateway.admin.views import render_trace
from idmesh.auth.v1 import auth_pb2


def test_a_traces_claims_are_a_readable_table_with_every_value_escaped() -> None:
    """Torque guide, debugging: the decoded claims (groups, space_name, space_role) are shown
    by name; an IdP-sent value cannot become markup (gateway.pages.html: every value escaped)."""
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
    html = render_trace(trace)
    assert "<caption>Decoded claims of the ID token (secrets redacted)</caption>" in html
    assert '<th scope="row"><code>groups</code></th><td>[&quot;5d2f6c3a&quot;, ' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "nonce_mismatch" in html
    assert "id_token" in html
