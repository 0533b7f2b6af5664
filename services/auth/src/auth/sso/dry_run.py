"""What a test sign-in would have done, and what to change in the IdP, in the IdP's own words.

A test sign-in (the setup wizard's "Test sign-in") runs the one login pipeline to its end with
directory's ProvisionLogin in dry-run mode. ``outcome`` turns that answer (or the refusal) into
the result the IT admin reads: who the login is (a new user, an existing user linked, a user
already linked, or refused and why), the spaces and roles the six rules give, the groups added
and removed, the timezone — and ``fixes``: each problem with the exact setting to change in the
IdP's console (Okta, Microsoft Entra ID, Google Workspace; a generic sentence otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from auth.sso.identity import Identity
from auth.sso.models import (
    PROTOCOL_SAML,
    VENDOR_AZURE_AD,
    VENDOR_GOOGLE,
    VENDOR_OKTA,
    Connection,
)
from idmesh.directory.v1 import directory_pb2

OUTCOME_NEW_USER: Final = "new_user"
OUTCOME_LINK_EXISTING: Final = "link_existing_user"
OUTCOME_LINKED: Final = "already_linked_user"
OUTCOME_REFUSED: Final = "refused"


@dataclass(frozen=True)
class Fix:
    problem: str
    setting: str

    def as_dict(self) -> dict[str, str]:
        return {"problem": self.problem, "setting": self.setting}


def _vendor(connection: Connection) -> str:
    if connection.saml is not None:
        return connection.saml.vendor
    return connection.oidc.vendor if connection.oidc is not None else ""


# Where each IdP sends a claim or an attribute: {(vendor, protocol): sentence with {name}}.
_ADD_CLAIM: Final = {
    (VENDOR_OKTA, "oidc"): "In the Okta Admin Console: Directory → Profile Editor → your app's "
    "user profile → Add Attribute (variable name {name}); then the app's Sign On tab → "
    "OpenID Connect ID Token → add the claim {name} with the value appuser.{name}.",
    (VENDOR_OKTA, "saml"): "In the Okta Admin Console: Applications → your app → General → "
    "SAML Settings → Edit → Configure SAML → Attribute Statements: Name {name}, "
    "Value appuser.{name}.",
    (VENDOR_AZURE_AD, "oidc"): "In the Microsoft Entra admin center: App registrations → your "
    "app → Token configuration → Add optional claim (ID token), or a directory extension "
    "attribute named {name}.",
    (VENDOR_AZURE_AD, "saml"): "In the Microsoft Entra admin center: Enterprise applications → "
    "your app → Single sign-on → Attributes & Claims → Add new claim: Name {name}, Source "
    "attribute the user attribute that holds it.",
    (VENDOR_GOOGLE, "saml"): "In the Google Admin console: Apps → Web and mobile apps → your app "
    "→ SAML attribute mapping → add a mapping to the app attribute {name}.",
}
_ADD_GROUPS: Final = {
    (VENDOR_OKTA, "oidc"): "In the Okta Admin Console: Applications → your app → Sign On → "
    "OpenID Connect ID Token → Edit → Groups claim type: Filter, Groups claim filter: "
    "{name} Matches regex .*",
    (VENDOR_OKTA, "saml"): "In the Okta Admin Console: Applications → your app → General → "
    "SAML Settings → Edit → Group Attribute Statements: Name {name}, Filter Matches regex .*",
    (VENDOR_AZURE_AD, "oidc"): "In the Microsoft Entra admin center: App registrations → your "
    'app → Token configuration → Add groups claim → "Security groups", ID token: Group ID.',
    (VENDOR_AZURE_AD, "saml"): "In the Microsoft Entra admin center: Enterprise applications → "
    "your app → Single sign-on → Attributes & Claims → Add a group claim → "
    '"Security groups", Source attribute: Group ID.',
    (VENDOR_GOOGLE, "saml"): "In the Google Admin console: Apps → Web and mobile apps → your app "
    "→ SAML attribute mapping → Group membership: choose the groups, App attribute {name}.",
    (VENDOR_GOOGLE, "oidc"): "Google Workspace sends no groups in OpenID Connect tokens: use its "
    "SAML app (Group membership mapping) or SCIM to bring groups.",
}
_USER_VALUE: Final = {
    VENDOR_OKTA: "In the Okta Admin Console: Directory → People → the user → Profile → Edit: "
    "the attribute {name}.",
    VENDOR_AZURE_AD: "In the Microsoft Entra admin center: Users → the user → Properties (or the "
    "extension attribute behind the {name} claim in Attributes & Claims).",
    VENDOR_GOOGLE: "In the Google Admin console: Directory → Users → the user → User "
    "information → the custom attribute mapped to {name}.",
}
_EMAIL: Final = {
    (VENDOR_OKTA, "oidc"): "In the Okta Admin Console: Directory → People → the user → Profile: "
    "Primary email must be an address of {domains}.",
    (VENDOR_OKTA, "saml"): "In the Okta Admin Console: Applications → your app → General → "
    "SAML Settings → Application username: Email (an address of {domains}).",
    (VENDOR_AZURE_AD, "oidc"): "In the Microsoft Entra admin center: Users → the user → "
    "Properties → Email (mail) must be an address of {domains}; add the email optional claim "
    "under App registrations → your app → Token configuration.",
    (VENDOR_AZURE_AD, "saml"): "In the Microsoft Entra admin center: Enterprise applications → "
    "your app → Single sign-on → Attributes & Claims → emailaddress: Source attribute "
    "user.mail (an address of {domains}).",
}


def _key(connection: Connection) -> tuple[str, str]:
    protocol = "saml" if connection.protocol == PROTOCOL_SAML else "oidc"
    return _vendor(connection), protocol


def _claim_fix(connection: Connection, name: str) -> str:
    template = _ADD_CLAIM.get(_key(connection))
    if template is None:
        kind = "attribute" if connection.protocol == PROTOCOL_SAML else "claim"
        template = f"In your IdP, send the {kind} {{name}} for this application."
    return template.format(name=name)


def _value_fix(connection: Connection, name: str) -> str:
    template = _USER_VALUE.get(_vendor(connection), "In your IdP, the user's value of {name}.")
    return template.format(name=name)


def _missing(connection: Connection, claims: dict[str, Any], name: str) -> bool:
    return bool(name) and name not in claims


def claim_fixes(connection: Connection, identity: Identity, claims: dict[str, Any]) -> list[Fix]:
    """What the IdP did not send that the account's rules use."""
    mapping = connection.mapping
    kind = "attribute" if connection.protocol == PROTOCOL_SAML else "claim"
    fixes = []
    if _missing(connection, claims, mapping.groups) and not identity.groups_overage:
        template = _ADD_GROUPS.get(_key(connection))
        setting = (
            template.format(name=mapping.groups)
            if template
            else f"In your IdP, send the user's groups in the {kind} {mapping.groups}."
        )
        fixes.append(
            Fix(
                f"No groups {kind} ({mapping.groups}): idmesh cannot put the user in the "
                "account's groups at sign-in.",
                setting,
            )
        )
    if _missing(connection, claims, mapping.space_name):
        default = connection.default_space or "no space"
        fixes.append(
            Fix(
                f"No {mapping.space_name} {kind}: the user would get the connection's default "
                f"({default}).",
                _claim_fix(connection, mapping.space_name),
            )
        )
    return fixes


def outcome(
    connection: Connection,
    identity: Identity,
    claims: dict[str, Any],
    provisioned: directory_pb2.ProvisionLoginResponse,
) -> dict[str, Any]:
    """The dry run's result for a login directory would have let in."""
    if provisioned.created:
        who = OUTCOME_NEW_USER
    elif provisioned.linked:
        who = OUTCOME_LINK_EXISTING
    else:
        who = OUTCOME_LINKED
    fixes = claim_fixes(connection, identity, claims)
    mapping = connection.mapping
    for role in provisioned.unknown_roles:
        fixes.append(
            Fix(
                f'The role "{role}" ({mapping.space_role}) is not a space role of this account: '
                "Space Member would be given.",
                _value_fix(connection, mapping.space_role),
            )
        )
    for space in provisioned.ignored_spaces:
        fixes.append(
            Fix(
                f'The space "{space}" ({mapping.space_name}) does not exist in this account: it '
                "would be ignored.",
                _value_fix(connection, mapping.space_name),
            )
        )
    if provisioned.timezone_ignored:
        fixes.append(
            Fix(
                f'The timezone "{identity.timezone}" is not an IANA name such as Europe/Berlin.',
                _value_fix(connection, mapping.timezone),
            )
        )
    user = provisioned.user
    return {
        "outcome": who,
        "email": identity.email,
        "user_name": user.user_name,
        "existing_user_id": "" if provisioned.created else user.id,
        "profile_applied": provisioned.profile_applied,
        "spaces": [{"space": g.space_name, "role": g.role_name} for g in provisioned.spaces],
        "ignored_spaces": list(provisioned.ignored_spaces),
        "unknown_roles": list(provisioned.unknown_roles),
        "timezone": "" if provisioned.timezone_ignored else identity.timezone,
        "groups_synced": provisioned.groups_synced,
        "groups_added": list(provisioned.groups_added),
        "groups_removed": list(provisioned.groups_removed),
        "groups_unmatched": list(provisioned.groups_unmatched),
        "fixes": [f.as_dict() for f in fixes],
    }


_REFUSALS: Final = {
    "email_domain_not_served": "The email's domain is not a verified domain this connection "
    "serves: idmesh would refuse this sign-in.",
    "email_not_verified": "The IdP does not vouch for this email (no email_verified): idmesh "
    "would not link or create a user by it.",
    "user_not_provisioned": "No user of the account has this email, and the connection does "
    "not create users.",
    "user_deactivated": "This user is deactivated in idmesh.",
}


def refused(
    connection: Connection,
    identity: Identity,
    claims: dict[str, Any],
    reason: str,
    detail: str,
) -> dict[str, Any]:
    """The dry run's result for a login directory would have refused."""
    fixes = []
    if reason == "email_domain_not_served":
        domains = ", ".join(connection.domains) or "a domain this connection serves"
        template = _EMAIL.get(_key(connection))
        setting = (
            template.format(domains=domains)
            if template
            else f"In your IdP, the user's email must be an address of {domains}."
        )
        setting += " Or add the email's domain in the Domains step and verify it."
        fixes.append(Fix(_REFUSALS[reason], setting))
    elif reason in _REFUSALS:
        fixes.append(Fix(_REFUSALS[reason], _value_fix(connection, connection.mapping.email)))
    fixes.extend(claim_fixes(connection, identity, claims))
    return {
        "outcome": OUTCOME_REFUSED,
        "reason": reason,
        "detail": detail,
        "email": identity.email,
        "timezone": identity.timezone,
        "fixes": [f.as_dict() for f in fixes],
    }
