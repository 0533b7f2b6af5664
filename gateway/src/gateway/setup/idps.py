"""What the setup wizard tells an IT admin, in their IdP console's own words.

One ``Guide`` per IdP and protocol: where to create the application, the values to paste into it
under the console's names for them ("Sign-in redirect URIs", "Audience URI (SP Entity ID)",
"Reply URL (Assertion Consumer Service URL)", "Identifier (Entity ID)"), what to copy back
(labels as the console shows them), and how to send ``space_name``, ``space_role``, ``timezone``
and the groups. ``ScimGuide`` does the same for provisioning (Okta, Microsoft Entra ID).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# What the wizard can show before the IdP's values exist (setup.connect fills them in).
REDIRECT_URI: Final = "redirect_uri"
ACS_URL: Final = "acs_url"
ENTITY_ID: Final = "entity_id"
SP_METADATA_URL: Final = "sp_metadata_url"


@dataclass(frozen=True)
class Paste:
    label: str
    # One of the keys above, or a literal value to type (e.g. "userName").
    value: str
    literal: bool = False


@dataclass(frozen=True)
class Guide:
    vendor: str
    protocol: str
    name: str
    console: str
    create_app: str
    paste: tuple[Paste, ...]
    # OIDC: the labels of issuer (or Entra's tenant id), client id and client secret.
    issuer_label: str = ""
    issuer_hint: str = ""
    client_id_label: str = ""
    client_secret_label: str = ""
    secret_hint: str = ""
    tenant: bool = False
    fixed_issuer: str = ""
    # SAML: where the IdP's metadata is.
    metadata_url_label: str = ""
    metadata_hint: str = ""
    # How to send each attribute; {space_name}, {space_role}, {timezone}, {groups} are the
    # connection's claim names.
    claims: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.protocol}/{self.vendor}"

    @property
    def title(self) -> str:
        kind = "OpenID Connect" if self.protocol == "oidc" else "SAML 2.0"
        return f"{self.name} ({kind})"


GUIDES: Final[tuple[Guide, ...]] = (
    Guide(
        "okta",
        "oidc",
        "Okta",
        "Okta Admin Console",
        "Applications → Applications → Create App Integration → OIDC - OpenID Connect → Web "
        "Application. Under Assignments, assign the people or groups who will sign in.",
        (Paste("Sign-in redirect URIs", REDIRECT_URI),),
        issuer_label="Okta domain (Issuer)",
        issuer_hint="e.g. https://acme.okta.com, or Security → API → Authorization Servers → "
        "Issuer URI",
        client_id_label="Client ID",
        client_secret_label="Client secret",
        secret_hint="Applications → your app → General → Client Credentials",
        claims=(
            "Directory → Profile Editor → your app's user profile → Add Attribute: "
            "{space_name}, {space_role} and {timezone} (string).",
            "Applications → your app → Sign On → OpenID Connect ID Token → Edit → Groups claim "
            "type: Filter; Groups claim filter: {groups} Matches regex .*",
        ),
    ),
    Guide(
        "azure_ad",
        "oidc",
        "Microsoft Entra ID",
        "Microsoft Entra admin center",
        "App registrations → New registration (Web). Then Certificates & secrets → New client "
        "secret.",
        (Paste("Redirect URI (Web)", REDIRECT_URI),),
        issuer_label="Directory (tenant) ID",
        issuer_hint="App registrations → your app → Overview",
        client_id_label="Application (client) ID",
        client_secret_label="Client secret Value",
        secret_hint="Certificates & secrets → the secret's Value (not its Secret ID)",
        tenant=True,
        claims=(
            "Token configuration → Add groups claim → Security groups; ID token: Group ID.",
            "Token configuration → Add optional claim → ID: email.",
            "{space_name}, {space_role} and {timezone}: directory extension attributes, "
            "Token configuration → Add optional claim → ID.",
        ),
    ),
    Guide(
        "google",
        "oidc",
        "Google Workspace",
        "Google Cloud console",
        "APIs & Services → Credentials → Create credentials → OAuth client ID → Web application.",
        (Paste("Authorized redirect URIs", REDIRECT_URI),),
        client_id_label="Client ID",
        client_secret_label="Client secret",
        fixed_issuer="https://accounts.google.com",
        claims=(
            "Google sends no groups, spaces or timezone in OpenID Connect: everyone gets the "
            "connection's default space. Use Google's SAML app for attributes and groups.",
        ),
    ),
    Guide(
        "generic",
        "oidc",
        "Any OpenID Connect IdP",
        "your IdP's console",
        "Create a confidential web application (authorization code flow, PKCE).",
        (Paste("Redirect URI", REDIRECT_URI),),
        issuer_label="Issuer URL",
        issuer_hint="The issuer of its discovery document (/.well-known/openid-configuration)",
        client_id_label="Client ID",
        client_secret_label="Client secret",
        claims=(
            "Send {space_name}, {space_role} and {timezone} in the ID token (or userinfo).",
            "Send the user's group identifiers in the claim {groups}.",
        ),
    ),
    Guide(
        "okta",
        "saml",
        "Okta",
        "Okta Admin Console",
        "Applications → Applications → Create App Integration → SAML 2.0. Under Assignments, "
        "assign the people or groups who will sign in.",
        (
            Paste("Single sign-on URL", ACS_URL),
            Paste("Audience URI (SP Entity ID)", ENTITY_ID),
            Paste("Name ID format", "EmailAddress", literal=True),
            Paste("Application username", "Email", literal=True),
        ),
        metadata_url_label="Metadata URL",
        metadata_hint="Applications → your app → Sign On → SAML 2.0 → Metadata details",
        claims=(
            "Sign On → SAML Settings → Edit → Attribute Statements: Name {space_name}, Value "
            "user.{space_name}; the same for {space_role} and {timezone}.",
            "Group Attribute Statements: Name {groups}, Filter Matches regex .*",
        ),
    ),
    Guide(
        "azure_ad",
        "saml",
        "Microsoft Entra ID",
        "Microsoft Entra admin center",
        "Enterprise applications → New application → Create your own application → Integrate "
        "any other application you don't find in the gallery → Single sign-on → SAML.",
        (
            Paste("Identifier (Entity ID)", ENTITY_ID),
            Paste("Reply URL (Assertion Consumer Service URL)", ACS_URL),
        ),
        metadata_url_label="App Federation Metadata Url",
        metadata_hint="Single sign-on → SAML Certificates",
        claims=(
            "Single sign-on → Attributes & Claims → Add new claim: Name {space_name}, Source "
            "attribute the user attribute that holds it; the same for {space_role} and "
            "{timezone}.",
            "Attributes & Claims → Add a group claim → Security groups; Source attribute: "
            "Group ID.",
        ),
    ),
    Guide(
        "google",
        "saml",
        "Google Workspace",
        "Google Admin console",
        "Apps → Web and mobile apps → Add app → Add custom SAML app.",
        (
            Paste("ACS URL", ACS_URL),
            Paste("Entity ID", ENTITY_ID),
            Paste("Name ID format", "EMAIL", literal=True),
            Paste("Name ID", "Basic Information > Primary email", literal=True),
        ),
        metadata_hint="Google Identity Provider details → Download Metadata (IdP metadata)",
        claims=(
            "SAML attribute mapping → Add mapping: your custom attributes → App attributes "
            "{space_name}, {space_role} and {timezone}.",
            "Group membership (optional) → the groups → App attribute {groups}.",
        ),
    ),
    Guide(
        "generic",
        "saml",
        "Any SAML 2.0 IdP",
        "your IdP's console",
        "Create a SAML 2.0 service provider (SP-initiated, HTTP-Redirect and HTTP-POST).",
        (
            Paste("Assertion Consumer Service (ACS) URL", ACS_URL),
            Paste("SP entity ID (Audience)", ENTITY_ID),
            Paste("SP metadata URL", SP_METADATA_URL),
        ),
        metadata_url_label="IdP metadata URL",
        claims=(
            "Send the attributes {space_name}, {space_role} and {timezone}.",
            "Send the user's group identifiers in the attribute {groups}.",
        ),
    ),
)
BY_KEY: Final = {guide.key: guide for guide in GUIDES}


@dataclass(frozen=True)
class ScimGuide:
    name: str
    where: str
    # (the console's label, the value: a key of the wizard's values or a literal)
    settings: tuple[Paste, ...]
    then: tuple[str, ...]


SCIM_BASE_URL: Final = "scim_base_url"
SCIM_TOKEN: Final = "scim_token"

SCIM_GUIDES: Final = (
    ScimGuide(
        "Okta",
        "Okta Admin Console → Applications → your app → General → App Settings → Edit → "
        "Provisioning: SCIM; then the Provisioning tab → Integration → Edit",
        (
            Paste("SCIM connector base URL", SCIM_BASE_URL),
            Paste("Unique identifier field for users", "userName", literal=True),
            Paste(
                "Supported provisioning actions",
                "Push New Users, Push Profile Updates, Push Groups",
                literal=True,
            ),
            Paste("Authentication Mode", "HTTP Header", literal=True),
            Paste("Authorization (Bearer)", SCIM_TOKEN),
        ),
        (
            "Test Connector Configuration, then Save.",
            "Provisioning → To App → Edit: Create Users, Update User Attributes, Deactivate Users.",
        ),
    ),
    ScimGuide(
        "Microsoft Entra ID",
        "Microsoft Entra admin center → Enterprise applications → your app → Provisioning → "
        "Get started",
        (
            Paste("Provisioning Mode", "Automatic", literal=True),
            Paste("Tenant URL", SCIM_BASE_URL),
            Paste("Secret Token", SCIM_TOKEN),
        ),
        (
            "Test Connection, then Save.",
            "Mappings → Provision Microsoft Entra ID Groups: Enabled Yes to bring groups (their "
            "Object Id becomes the group's IdP identifier, matching the groups claim), or No to "
            "provision users only.",
            "Overview → Start provisioning. Entra provisions every 40 minutes; Provision on "
            "demand sends one user now.",
        ),
    ),
)
