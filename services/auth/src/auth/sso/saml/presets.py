"""Attribute mappings of SAML connections: what Okta and Entra send by default.

Entra (Microsoft Learn, "Customize claims issued in the SAML token"; the Torque guide's Azure
section) names its claims by URI and sends the groups claim as one AttributeValue per group
object id; above 150 groups it sends ``.../claims/groups.link`` instead (the overage). Okta's
app integration sends the names the admin types (the Torque guide's Okta section).
"""

from __future__ import annotations

from typing import Final

from auth.sso.models import VENDOR_AZURE_AD, VENDOR_GENERIC, VENDOR_OKTA, AttributeMapping

ENTRA_CLAIMS: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
ENTRA_EMAIL: Final = ENTRA_CLAIMS + "emailaddress"
ENTRA_GIVEN_NAME: Final = ENTRA_CLAIMS + "givenname"
ENTRA_SURNAME: Final = ENTRA_CLAIMS + "surname"
ENTRA_DISPLAY_NAME: Final = "http://schemas.microsoft.com/identity/claims/displayname"
ENTRA_GROUPS: Final = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
ENTRA_GROUPS_LINK: Final = "http://schemas.microsoft.com/claims/groups.link"
ENTRA_TENANT_ID: Final = "http://schemas.microsoft.com/identity/claims/tenantid"
ENTRA_OBJECT_ID: Final = "http://schemas.microsoft.com/identity/claims/objectidentifier"

_OKTA = AttributeMapping(
    email="email",
    given_name="firstName",
    family_name="lastName",
    display_name="displayName",
    space_name="space_name",
    space_role="space_role",
    timezone="timezone",
    groups="groups",
)

SAML_MAPPINGS: Final[dict[str, AttributeMapping]] = {
    VENDOR_GENERIC: _OKTA,
    VENDOR_OKTA: _OKTA,
    VENDOR_AZURE_AD: AttributeMapping(
        email=ENTRA_EMAIL,
        given_name=ENTRA_GIVEN_NAME,
        family_name=ENTRA_SURNAME,
        display_name=ENTRA_DISPLAY_NAME,
        space_name="space_name",
        space_role="space_role",
        timezone="timezone",
        groups=ENTRA_GROUPS,
    ),
}
