"""From a validated assertion to ProvisionLogin's fields (auth.sso.saml.claims), and the
AuthnRequest over HTTP-Redirect (auth.sso.saml.connector): pure functions."""

from __future__ import annotations

import base64
import uuid
import zlib
from datetime import UTC, datetime

import pytest
from lxml import etree

from auth.sso.claims import ClaimError
from auth.sso.models import Connection, SamlConfig
from auth.sso.saml.claims import map_assertion
from auth.sso.saml.connector import authn_request, redirect_binding
from auth.sso.saml.presets import (
    ENTRA_EMAIL,
    ENTRA_GROUPS,
    ENTRA_GROUPS_LINK,
    ENTRA_OBJECT_ID,
    ENTRA_TENANT_ID,
    SAML_MAPPINGS,
)
from auth.sso.saml.validator import ValidAssertion

IDP = "http://www.okta.com/exk1"


def _connection(vendor: str = "okta", domains: tuple[str, ...] = ("acme.test",)) -> Connection:
    now = datetime.now(UTC)
    return Connection(
        id=uuid.uuid4(), account_id=uuid.uuid4(), name="okta-saml", display_name="Okta",
        protocol="saml", domains=domains, mapping=SAML_MAPPINGS[vendor],
        provisioning_policy="create_users", profile_update="first_login", default_space="",
        default_space_role="", enabled=True, created_by="", create_time=now, update_time=now,
        version=1, oidc=None,
        saml=SamlConfig(idp_entity_id=IDP, sso_url="https://idp/sso", certificates=("x",),
                        sp_entity_id="https://sp/metadata", acs_url="https://sp/acs",
                        vendor=vendor),
    )  # fmt: skip


def _valid(
    name_id: str = "00u1abc", uris: dict[str, list[str]] | None = None, **attributes: list[str]
) -> ValidAssertion:
    attributes = {**attributes, **(uris or {})}
    return ValidAssertion(
        response_id="_r", assertion_id="_a", name_id=name_id,
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        attributes=dict(attributes), session_index="", expire_at=0.0, clock_delta=0.0,
        in_response_to="",
    )  # fmt: skip


def test_the_identity_key_is_the_idp_and_name_id_never_the_email() -> None:
    """sso-security.md "Never key accounts on email": the link is (IdP entity id, NameID)."""
    mapped = map_assertion(_connection(), _valid(email=["Ada@acme.test"]))
    assert mapped.subject == f"{IDP}|00u1abc"
    assert mapped.email == "Ada@acme.test"


def test_an_assertion_vouches_for_its_email_and_directory_decides_by_domain() -> None:
    """SAML has no email_verified: the signed assertion is the IdP's word for the email, and
    directory links or creates by it only inside a verified domain the connection serves (the
    login pipeline's contract test shows the refusal outside)."""
    assert map_assertion(_connection(), _valid(email=["a@evil.test"])).email_verified


def test_an_email_name_id_stands_in_for_a_missing_email_attribute() -> None:
    mapped = map_assertion(_connection(), _valid(name_id="bo@acme.test"))
    assert mapped.email == "bo@acme.test"
    with pytest.raises(ClaimError) as missing:
        map_assertion(_connection(), _valid(name_id="opaque"))
    assert missing.value.reason == "email_missing"


def test_entra_claim_uris_map_and_the_identity_is_tenant_and_object_id() -> None:
    """The Torque guide's Azure section; Microsoft Learn "SAML token claims reference"."""
    valid = _valid(
        uris={ENTRA_EMAIL: ["g@acme.test"], ENTRA_TENANT_ID: ["tid"], ENTRA_OBJECT_ID: ["oid"],
              ENTRA_GROUPS: ["g1", "g2", "g1"]}
    )  # fmt: skip
    mapped = map_assertion(_connection("azure_ad"), valid)
    assert mapped.subject == "tid|oid"
    assert mapped.email == "g@acme.test"
    assert mapped.groups == ("g1", "g2")
    assert mapped.sync_groups
    with pytest.raises(ClaimError):
        map_assertion(_connection("azure_ad"), _valid(uris={ENTRA_EMAIL: ["g@acme.test"]}))


def test_an_entra_groups_overage_leaves_groups_unchanged() -> None:
    """Microsoft Learn "Configure group claims": above 150 groups SAML carries groups.link."""
    valid = _valid(
        uris={ENTRA_EMAIL: ["g@acme.test"], ENTRA_TENANT_ID: ["t"], ENTRA_OBJECT_ID: ["o"],
              ENTRA_GROUPS_LINK: ["https://graph.windows.net/..."]}
    )  # fmt: skip
    mapped = map_assertion(_connection("azure_ad"), valid)
    assert mapped.groups_overage
    assert not mapped.sync_groups


def test_space_lists_pair_by_position_as_over_oidc() -> None:
    """The Torque guide's rules take comma-separated lists; positions are kept."""
    valid = _valid(email=["a@acme.test"], space_name=["DevOps, QA,"], space_role=["Admin"])
    mapped = map_assertion(_connection(), valid)
    assert mapped.spaces_present
    assert mapped.space_names == ("DevOps", "QA", "")
    assert mapped.space_roles == ("Admin",)


def test_the_authn_request_is_deflated_for_the_redirect_binding_and_escapes_its_values() -> None:
    """saml-bindings 3.4.4.1 (raw DEFLATE, base64); saml-core 3.4.1 AuthnRequest."""
    xml = authn_request(
        "_req", datetime(2026, 1, 1, tzinfo=UTC), sp_entity_id="https://sp/m?a=1&b=<2>",
        acs_url='https://sp/acs"x', destination="https://idp/sso",
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )  # fmt: skip
    decoded = zlib.decompress(base64.b64decode(redirect_binding(xml)), -15)
    request = etree.fromstring(decoded)
    assert request.get("ID") == "_req"
    assert request.get("AssertionConsumerServiceURL") == 'https://sp/acs"x'
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
    issuer = request.find("saml:Issuer", ns)
    assert issuer is not None
    assert issuer.text == "https://sp/m?a=1&b=<2>"
