"""From a validated assertion to what directory provisions: the SAML side of auth.sso.claims.

- The identity link key is never the email: ``<IdP entity id>|<NameID>``, or for Entra
  ``<tenantid>|<objectidentifier>`` (stable ids; NameID formats vary per app configuration).
- SAML has no ``email_verified``: the assertion's email is the IdP's word, and directory links
  or creates a user by it only inside a verified domain the connection serves (sso-security.md,
  "Never key accounts on email").
- Multi-valued attributes stay lists; ``space_name`` / ``space_role`` are split by commas and
  paired by position exactly as over OIDC (the same ``split_list``).
- Entra's overage (``groups.link`` instead of ``groups``) leaves group memberships unchanged.
"""

from __future__ import annotations

from typing import Any

from auth.sso.claims import MAX_GROUPS, MAX_TEXT, ClaimError, split_list
from auth.sso.identity import Identity
from auth.sso.models import VENDOR_AZURE_AD, Connection
from auth.sso.saml.presets import ENTRA_GROUPS_LINK, ENTRA_OBJECT_ID, ENTRA_TENANT_ID
from auth.sso.saml.validator import ValidAssertion


def _first(attributes: dict[str, list[str]], name: str) -> str:
    values = attributes.get(name) if name else None
    return values[0].strip()[:MAX_TEXT] if values else ""


def assertion_claims(valid: ValidAssertion) -> dict[str, Any]:
    """The assertion as claims for the login trace: single values as strings, lists kept."""
    claims: dict[str, Any] = {"name_id_format": valid.name_id_format}
    for name, values in valid.attributes.items():
        claims[name] = values[0] if len(values) == 1 else list(values)
    return claims


def subject_key(connection: Connection, valid: ValidAssertion) -> str:
    saml = connection.saml
    assert saml is not None
    if saml.vendor == VENDOR_AZURE_AD:
        tenant = _first(valid.attributes, ENTRA_TENANT_ID)
        oid = _first(valid.attributes, ENTRA_OBJECT_ID)
        if not tenant or not oid:
            raise ClaimError("oid_missing", "no Entra tenantid or objectidentifier")
        return f"{tenant}|{oid}"
    name_id = valid.name_id.strip()
    if not name_id:
        raise ClaimError("name_id_missing", "the assertion has no NameID")
    return f"{saml.idp_entity_id}|{name_id}"


def map_assertion(connection: Connection, valid: ValidAssertion) -> Identity:
    """What the assertion says about the user, named the way ProvisionLogin expects."""
    mapping = connection.mapping
    attributes = valid.attributes
    email = _first(attributes, mapping.email)
    if not email and "@" in valid.name_id:
        email = valid.name_id.strip()[:MAX_TEXT]
    if "@" not in email:
        raise ClaimError("email_missing", f"the assertion has no email in {mapping.email!r}")
    spaces_present = bool(mapping.space_name) and mapping.space_name in attributes
    overage = bool(mapping.groups) and ENTRA_GROUPS_LINK in attributes
    groups: list[str] = []
    if mapping.groups and not overage:
        groups = [v.strip()[:MAX_TEXT] for v in attributes.get(mapping.groups, []) if v.strip()]
    return Identity(
        subject=subject_key(connection, valid),
        email=email,
        email_verified=True,
        given_name=_first(attributes, mapping.given_name),
        family_name=_first(attributes, mapping.family_name),
        display_name=_first(attributes, mapping.display_name),
        timezone=_first(attributes, mapping.timezone),
        spaces_present=spaces_present,
        space_names=split_list(attributes[mapping.space_name]) if spaces_present else (),
        space_roles=split_list(attributes.get(mapping.space_role, []))
        if spaces_present and mapping.space_role
        else (),
        sync_groups=bool(mapping.groups) and not overage,
        groups=tuple(dict.fromkeys(groups))[:MAX_GROUPS],
        groups_overage=overage,
    )
