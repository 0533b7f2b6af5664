"""Connection requests: presets, URL rules, domains, algorithms, Entra tenants (brief, issue 4;
docs/sso-security.md §3)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from auth.sso.connections import connection_draft
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument

ACCOUNT = uuid.uuid4()


def _draft(**oidc: Any) -> Any:
    fields: dict[str, Any] = {
        "issuer": "https://acme.okta.test",
        "client_id": "cid",
        "client_secret": "s",
    }
    connection_fields = oidc.pop("connection", {})
    fields.update(oidc)
    message = auth_pb2.Connection(oidc=auth_pb2.OidcSettings(**fields), **connection_fields)
    return connection_draft(message, ACCOUNT, uuid.uuid4())


def _field(**oidc: Any) -> str:
    with pytest.raises(InvalidArgument) as caught:
        _draft(**oidc)
    return caught.value.field


def test_the_okta_preset_fills_scopes_claims_and_the_button_label() -> None:
    """Vendor presets: Okta sends groups once the groups scope is asked."""
    draft = _draft(vendor=auth_pb2.OIDC_VENDOR_OKTA)
    assert draft.name == "okta"
    assert draft.display_name == "Okta"
    assert draft.oidc.scopes == ("openid", "email", "profile", "groups")
    assert draft.mapping.groups == "groups"
    assert draft.mapping.space_name == "space_name"
    assert draft.oidc.signing_algorithms == ("RS256", "PS256", "ES256")
    assert draft.oidc.discovery_url == "https://acme.okta.test/.well-known/openid-configuration"
    assert draft.provisioning_policy == "create_users"
    assert draft.profile_update == "first_login"


def test_an_entra_tenant_id_fills_the_v2_issuer() -> None:
    """Entra single tenant: https://login.microsoftonline.com/<tid>/v2.0."""
    tid = str(uuid.uuid4())
    draft = _draft(issuer="", vendor=auth_pb2.OIDC_VENDOR_AZURE_AD, entra_tenant_id=tid)
    assert draft.oidc.issuer == f"https://login.microsoftonline.com/{tid}/v2.0"
    assert draft.display_name == "Microsoft"
    assert draft.name == "entra"


def test_an_entra_multi_tenant_issuer_needs_allowed_tenants_and_uses_organizations() -> None:
    """MS Q&A 303897: the {tenantid} template, checked against the token's tid and an
    allow-list; discovery from the organizations document."""
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert _field(issuer=template, vendor=auth_pb2.OIDC_VENDOR_AZURE_AD) == (
        "oidc.allowed_tenant_ids"
    )
    tid = str(uuid.uuid4())
    draft = _draft(issuer="", vendor=auth_pb2.OIDC_VENDOR_AZURE_AD, allowed_tenant_ids=[tid])
    assert draft.oidc.issuer == template
    assert "organizations" in draft.oidc.discovery_url
    assert _field(issuer=template) == "oidc.issuer"  # templates are Entra's only


def test_issuers_must_be_https_except_on_loopback() -> None:
    """The test IdPs of the e2e suite listen on http://127.0.0.1; nothing else may be http."""
    assert _field(issuer="http://idp.acme.test") == "oidc.issuer"
    assert _field(issuer="ftp://idp.acme.test") == "oidc.issuer"
    assert _field(issuer="https://user:pw@idp.acme.test") == "oidc.issuer"
    assert _draft(issuer="http://127.0.0.1:9090").oidc.issuer == "http://127.0.0.1:9090"
    assert _draft(issuer="http://localhost:9090").oidc.issuer == "http://localhost:9090"


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "RSA1_5", ""])
def test_none_and_hmac_algorithms_cannot_be_allowed(alg: str) -> None:
    """RFC 8725 §3.1-3.2: only asymmetric signatures (an empty list keeps the default)."""
    if not alg:
        assert _draft(signing_algorithms=[""]).oidc.signing_algorithms == (
            "RS256",
            "PS256",
            "ES256",
        )
        return
    assert _field(signing_algorithms=["RS256", alg]) == "oidc.signing_algorithms"


def test_domains_are_lower_cased_deduplicated_and_checked() -> None:
    """Home-realm discovery compares domains exactly, so they are stored canonically."""
    draft = _draft(connection={"domains": ["Acme.TEST", "acme.test.", "sub.acme.test"]})
    assert draft.domains == ("acme.test", "sub.acme.test")
    assert _field(connection={"domains": ["not a domain"]}) == "connection.domains"
    assert _field(connection={"domains": ["localhost"]}) == "connection.domains"


def test_openid_is_always_requested_and_scopes_are_tokens() -> None:
    assert _draft(scopes=["email"]).oidc.scopes == ("openid", "email")
    assert _field(scopes=['bad"scope']) == "oidc.scopes"


def test_an_attribute_can_be_renamed_or_turned_off_but_not_the_email() -> None:
    """Attribute mapping: a custom claim name, "-" for none (e.g. no group sync)."""
    mapping = auth_pb2.AttributeMapping(space_name="torque_space", groups="-")
    draft = _draft(connection={"attribute_mapping": mapping})
    assert draft.mapping.space_name == "torque_space"
    assert draft.mapping.groups == ""
    off = auth_pb2.AttributeMapping(email="-")
    assert _field(connection={"attribute_mapping": off}) == "attribute_mapping.email"


def test_a_default_space_gets_space_member_unless_a_role_is_named() -> None:
    """Seed 001 (Private SaaS): new users land in a default space with a pre-configured role."""
    assert _draft(connection={"default_space": "Trial"}).default_space_role == "Space Member"
    named = _draft(connection={"default_space": "Trial", "default_space_role": "Space Developer"})
    assert named.default_space_role == "Space Developer"
    assert _field(connection={"default_space_role": "Space Admin"}) == (
        "connection.default_space_role"
    )


def test_the_secret_and_client_id_are_required_and_names_are_slugs() -> None:
    assert _field(client_secret="") == "oidc.client_secret"
    assert _field(client_id="") == "oidc.client_id"
    assert _field(connection={"name": "Not A Slug"}) == "connection.name"
    with pytest.raises(InvalidArgument):
        connection_draft(auth_pb2.Connection(), ACCOUNT, uuid.uuid4())


def test_the_secret_is_not_in_the_drafts_repr() -> None:
    """A logged draft never shows the client secret."""
    assert "topsecret" not in repr(_draft(client_secret="topsecret"))
