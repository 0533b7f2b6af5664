"""From verified claims to a provisioning request and a login trace (docs/sso-security.md
§3: nOAuth, Entra groups overage; the Torque guide's space_name/space_role lists)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from auth.sso.claims import ClaimError, redact_claims, split_list
from auth.sso.models import AttributeMapping, Connection, OidcConfig
from auth.sso.oidc.claims import map_claims
from auth.sso.oidc.presets import PRESETS

ISSUER = "https://idp.acme.test"


def _connection(vendor: str = "okta", domains: tuple[str, ...] = ()) -> Connection:
    now = datetime.now(UTC)
    return Connection(
        id=uuid.uuid4(), account_id=uuid.uuid4(), name="okta", display_name="Okta",
        protocol="oidc", domains=domains, mapping=PRESETS[vendor].mapping,
        provisioning_policy="create_users", profile_update="first_login", default_space="",
        default_space_role="", enabled=True, created_by="", create_time=now, update_time=now,
        version=1,
        oidc=OidcConfig(
            issuer=ISSUER, discovery_url=ISSUER + "/.well-known/openid-configuration",
            client_id="c", scopes=("openid",), vendor=vendor, entra_tenant_id="",
            allowed_tenant_ids=(), signing_algorithms=("RS256",), client_secret=None,
        ),
    )  # fmt: skip


def _claims(**extra: Any) -> dict[str, Any]:
    body = {"iss": ISSUER, "sub": "00u1", "email": "Ada@Acme.test", "email_verified": True}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def test_the_identity_key_is_issuer_and_subject_never_the_email() -> None:
    """sso-security.md: key on (iss, sub)."""
    mapped = map_claims(_connection(), _claims())
    assert mapped.subject == f"{ISSUER}|00u1"
    assert mapped.email == "Ada@Acme.test"


def test_entra_identities_are_keyed_on_tenant_and_object_id() -> None:
    """nOAuth (Descope 2023): Entra's email is mutable; (tid, oid) is not."""
    mapped = map_claims(_connection("azure_ad"), _claims(tid="t1", oid="o1"))
    assert mapped.subject == "t1|o1"
    with pytest.raises(ClaimError) as caught:
        map_claims(_connection("azure_ad"), _claims(tid="t1"))
    assert caught.value.reason == "oid_missing"


@pytest.mark.parametrize(
    ("vendor", "verified", "vouched"),
    [
        ("okta", True, True),
        ("okta", "true", True),
        ("okta", False, False),
        ("okta", None, False),
        ("okta", "yes", False),
        ("google", None, False),
        ("generic", None, True),
        ("generic", False, False),
        ("azure_ad", None, True),
    ],
)
def test_email_verified_is_read_by_the_vendors_rule(
    vendor: str, verified: Any, vouched: bool
) -> None:
    """Okta and Google always send email_verified, so only true vouches for the email; Entra
    sends none; a generic IdP's explicit false is never overridden. (Directory then links or
    creates by email only inside a verified domain the connection serves.)"""
    claims = _claims(email_verified=verified, tid="t", oid="o")
    assert map_claims(_connection(vendor), claims).email_verified is vouched


def test_entra_preferred_username_stands_in_for_a_missing_email() -> None:
    """Entra often omits email; its preferred_username (the UPN) stands in, as tenant data."""
    claims = _claims(email=None, tid="t", oid="o", preferred_username="ada@acme.test")
    mapped = map_claims(_connection("azure_ad"), claims)
    assert (mapped.email, mapped.email_verified) == ("ada@acme.test", True)


def test_a_token_without_an_email_cannot_sign_in() -> None:
    with pytest.raises(ClaimError) as caught:
        map_claims(_connection(), _claims(email=None))
    assert caught.value.reason == "email_missing"


def test_space_lists_keep_positions_from_strings_or_arrays() -> None:
    """The Torque guide: comma-separated values paired by position; empty items keep their
    place so the pairing holds."""
    assert split_list("Trial, DevOps") == ("Trial", "DevOps")
    assert split_list(["Trial,DevOps", "QA"]) == ("Trial", "DevOps", "QA")
    assert split_list("A,,B") == ("A", "", "B")
    mapped = map_claims(
        _connection(), _claims(space_name="Trial,DevOps", space_role="Space Developer")
    )
    assert mapped.spaces_present
    assert mapped.space_names == ("Trial", "DevOps")
    assert mapped.space_roles == ("Space Developer",)
    assert not map_claims(_connection(), _claims()).spaces_present


def test_groups_are_read_as_identifiers_and_synced() -> None:
    """The Torque guide: group claims carry IdP identifiers (Entra object ids)."""
    mapped = map_claims(_connection(), _claims(groups=["g1", "g2", "g1", 7]))
    assert mapped.sync_groups
    assert mapped.groups == ("g1", "g2")
    absent = map_claims(_connection(), _claims())
    assert absent.sync_groups
    assert absent.groups == ()


@pytest.mark.parametrize(
    "overage",
    [
        {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "x"}}},
        {"hasgroups": True},
    ],
)
def test_an_entra_groups_overage_is_detected_and_never_read_as_no_groups(
    overage: dict[str, Any],
) -> None:
    """Microsoft Learn "Configure group claims": above 200 groups the claim is replaced by
    _claim_names (or hasgroups); memberships must then stay as they are."""
    mapped = map_claims(_connection("azure_ad"), _claims(tid="t", oid="o", **overage))
    assert mapped.groups_overage
    assert not mapped.sync_groups


def test_a_connection_without_a_groups_claim_does_not_sync_groups() -> None:
    """Google sends no groups: its preset turns group sync off."""
    connection = replace(_connection(), mapping=replace(_connection().mapping, groups=""))
    assert not map_claims(connection, _claims(groups=["g"])).sync_groups
    assert not map_claims(_connection("google"), _claims(groups=["g"])).sync_groups


def test_a_trace_keeps_the_claims_without_their_secrets() -> None:
    """Login traces keep what the IdP sent with secrets redacted (Ory Polis SSO Traces)."""
    claims = _claims(
        nonce="n", at_hash="h", c_hash="c", access_token="a", refresh_token_hint="r",
        _claim_sources={"src1": {"endpoint": "https://graph", "access_token": "t"}},
        name="Ada", groups=["g1"], long="x" * 2000,
    )  # fmt: skip
    redacted = redact_claims(claims)
    for secret in ("nonce", "at_hash", "c_hash", "access_token", "refresh_token_hint",
                   "_claim_sources"):  # fmt: skip
        assert redacted[secret] == "[redacted]"
    assert redacted["name"] == "Ada"
    assert redacted["groups"] == ["g1"]
    assert len(redacted["long"]) == 500


def test_an_unused_mapping_field_is_not_read() -> None:
    mapping = AttributeMapping("email", "", "", "", "", "", "", "")
    connection = replace(_connection(), mapping=mapping)
    mapped = map_claims(connection, _claims(given_name="Ada", space_name="X"))
    assert mapped.given_name == ""
    assert not mapped.spaces_present
