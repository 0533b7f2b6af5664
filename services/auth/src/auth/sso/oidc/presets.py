"""Vendor presets: the claim names, scopes and labels each kind of IdP needs by default.

An admin names the vendor; the preset fills what they leave empty. Entra's claim names follow
Microsoft's ID token reference (``tid``/``oid`` key the identity, ``groups`` carries object ids);
Okta sends ``groups`` once a groups claim filter is configured and the ``groups`` scope asked;
Google sends no groups. ``space_name``, ``space_role`` and ``timezone`` are the custom attributes
the Torque guide asks IdP admins to add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from auth.sso.models import (
    VENDOR_AZURE_AD,
    VENDOR_GENERIC,
    VENDOR_GOOGLE,
    VENDOR_OKTA,
    AttributeMapping,
)

ENTRA_HOST: Final = "login.microsoftonline.com"
ENTRA_TENANT_TEMPLATE: Final = "{tenantid}"
ENTRA_MULTI_TENANT_ISSUER: Final = f"https://{ENTRA_HOST}/{ENTRA_TENANT_TEMPLATE}/v2.0"
ENTRA_MULTI_TENANT_DISCOVERY: Final = (
    f"https://{ENTRA_HOST}/organizations/v2.0/.well-known/openid-configuration"
)
DEFAULT_SIGNING_ALGORITHMS: Final = ("RS256", "PS256", "ES256")
# Asymmetric algorithms only: an HMAC "signature" keyed with a published public key is forgeable
# by anyone (RFC 8725 §3.1-3.2), and "none" is no signature at all.
ALLOWED_SIGNING_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


@dataclass(frozen=True)
class Preset:
    display_name: str
    # The vendor's name in the "Valid login through <label> IdP detected" log line.
    log_label: str
    scopes: tuple[str, ...]
    mapping: AttributeMapping
    # "tid_oid": Entra identity links key on tenant and object id; "iss_sub" otherwise.
    link_key: str
    default_issuer: str = ""
    # The vendor always sends email_verified (Okta, Google), so anything but true means the
    # email is not verified; Entra sends none, and a generic IdP may not.
    requires_email_verified: bool = False
    # Whether a new connection calls the userinfo endpoint by default: Okta puts custom
    # attributes and groups there unless they are added to the ID token; a generic IdP may too.
    userinfo: bool = False


_STANDARD = AttributeMapping(
    email="email",
    given_name="given_name",
    family_name="family_name",
    display_name="name",
    space_name="space_name",
    space_role="space_role",
    timezone="timezone",
    groups="groups",
)

PRESETS: Final[dict[str, Preset]] = {
    VENDOR_GENERIC: Preset(
        display_name="",
        log_label="OIDC",
        scopes=("openid", "email", "profile"),
        mapping=_STANDARD,
        link_key="iss_sub",
        userinfo=True,
    ),
    VENDOR_OKTA: Preset(
        display_name="Okta",
        log_label="Okta",
        scopes=("openid", "email", "profile", "groups"),
        mapping=_STANDARD,
        link_key="iss_sub",
        requires_email_verified=True,
        userinfo=True,
    ),
    VENDOR_AZURE_AD: Preset(
        display_name="Microsoft",
        log_label="AzureAD",
        scopes=("openid", "email", "profile"),
        mapping=_STANDARD,
        link_key="tid_oid",
    ),
    VENDOR_GOOGLE: Preset(
        display_name="Google",
        log_label="Google",
        scopes=("openid", "email", "profile"),
        mapping=AttributeMapping(
            email="email",
            given_name="given_name",
            family_name="family_name",
            display_name="name",
            space_name="space_name",
            space_role="space_role",
            timezone="timezone",
            groups="",
        ),
        link_key="iss_sub",
        default_issuer="https://accounts.google.com",
        requires_email_verified=True,
    ),
}


def entra_issuer(tenant_id: str) -> str:
    """The v2.0 issuer of one Entra tenant."""
    return f"https://{ENTRA_HOST}/{tenant_id}/v2.0"
