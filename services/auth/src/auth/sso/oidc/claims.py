"""From verified ID token (and userinfo) claims to an Identity. Pure functions.

- The identity key is never the email (nOAuth): ``iss|sub``, or ``tid|oid`` for Entra.
- ``email_verified`` is read per vendor (oidc.presets): Okta and Google always send it, so it
  must be true; Entra sends none (its ``email`` and ``preferred_username`` are tenant data);
  a generic IdP's explicit ``false`` is never overridden. Whatever it says, directory links or
  creates a user by email only inside a verified domain the connection serves.
- Entra's groups overage (``_claim_names`` naming groups, or ``hasgroups``) is detected and
  reported: the user's groups are then left as they are, never read as "no groups".
"""

from __future__ import annotations

from typing import Any

from auth.sso.claims import MAX_GROUPS, MAX_TEXT, ClaimError, split_list, text
from auth.sso.identity import Identity
from auth.sso.models import VENDOR_AZURE_AD, Connection
from auth.sso.oidc import presets


def is_true(value: Any) -> bool:
    """A boolean claim as true: a JSON true, or the string "true" some IdPs send."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def email_verified(vendor: str, claims: dict[str, Any]) -> bool:
    """Whether the IdP vouches for the email, by the vendor's rule (module docstring)."""
    value = claims.get("email_verified")
    if presets.PRESETS[vendor].requires_email_verified:
        return is_true(value)
    return value is None or is_true(value)


def groups_overage(claims: dict[str, Any]) -> bool:
    """Entra leaves ``groups`` out above 200 groups and says so with ``_claim_names.groups``
    (or ``hasgroups`` in implicit flows): Microsoft Learn, "Configure group claims"."""
    names = claims.get("_claim_names")
    if isinstance(names, dict) and "groups" in names:
        return True
    return is_true(claims.get("hasgroups"))


def subject_key(connection: Connection, claims: dict[str, Any]) -> str:
    """The identity link key: ``tid|oid`` for Entra, ``iss|sub`` otherwise."""
    assert connection.oidc is not None
    if presets.PRESETS[connection.oidc.vendor].link_key == "tid_oid":
        tid, oid = claims.get("tid"), claims.get("oid")
        if not isinstance(tid, str) or not tid or not isinstance(oid, str) or not oid:
            raise ClaimError("oid_missing", "the Entra ID token lacks tid or oid")
        return f"{tid}|{oid}"
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(sub, str) or not sub or not isinstance(iss, str):
        raise ClaimError("sub_missing", "the ID token lacks sub")
    return f"{iss}|{sub}"


def map_claims(connection: Connection, claims: dict[str, Any]) -> Identity:
    """Who the IdP says this is, as the login pipeline takes it."""
    mapping = connection.mapping
    oidc = connection.oidc
    assert oidc is not None
    email = text(claims.get(mapping.email))
    if not email and oidc.vendor == VENDOR_AZURE_AD:
        # Entra often omits "email"; preferred_username (the UPN) stands in. It is tenant data,
        # trusted like the rest only inside a verified domain the connection serves.
        email = text(claims.get("preferred_username"))
    if "@" not in email:
        raise ClaimError("email_missing", f"the ID token has no email in {mapping.email!r}")
    spaces_present = bool(mapping.space_name) and mapping.space_name in claims
    overage = bool(mapping.groups) and groups_overage(claims)
    groups: list[str] = []
    if mapping.groups and not overage:
        raw = claims.get(mapping.groups, [])
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, str) and item.strip():
                groups.append(item.strip()[:MAX_TEXT])
    return Identity(
        subject=subject_key(connection, claims),
        email=email,
        email_verified=email_verified(oidc.vendor, claims),
        given_name=text(claims.get(mapping.given_name)) if mapping.given_name else "",
        family_name=text(claims.get(mapping.family_name)) if mapping.family_name else "",
        display_name=text(claims.get(mapping.display_name)) if mapping.display_name else "",
        timezone=text(claims.get(mapping.timezone)) if mapping.timezone else "",
        spaces_present=spaces_present,
        space_names=split_list(claims[mapping.space_name]) if spaces_present else (),
        space_roles=split_list(claims.get(mapping.space_role, []))
        if spaces_present and mapping.space_role
        else (),
        sync_groups=bool(mapping.groups) and not overage,
        groups=tuple(dict.fromkeys(groups))[:MAX_GROUPS],
        groups_overage=overage,
    )
