"""The vendor presets of the connection forms: each IdP's own names for the values an admin
copies out of its console, and for the values to paste into it (Okta Admin Console, Microsoft
Entra admin center, Google Cloud console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class OidcPreset:
    vendor: str
    title: str
    where: str
    issuer_label: str
    issuer_hint: str
    client_id_label: str
    client_secret_label: str
    redirect_label: str
    tenant: bool = False
    issuer: str = ""


@dataclass(frozen=True)
class SamlPreset:
    vendor: str
    title: str
    where: str
    metadata_label: str
    acs_label: str
    entity_label: str


OIDC: Final = {
    "okta": OidcPreset(
        "okta",
        "Okta (OpenID Connect)",
        "Okta Admin Console → Applications → your app → General",
        "Okta domain (Issuer)",
        "e.g. https://acme.okta.com, or your authorization server's Issuer URI",
        "Client ID",
        "Client secret",
        "Sign-in redirect URIs",
    ),
    "azure_ad": OidcPreset(
        "azure_ad",
        "Microsoft Entra ID (OpenID Connect)",
        "Entra admin center → App registrations → your app → Overview",
        "Issuer",
        "",
        "Application (client) ID",
        "Client secret Value (Certificates & secrets)",
        "Redirect URI (Authentication → Web)",
        tenant=True,
    ),
    "google": OidcPreset(
        "google",
        "Google Workspace (OpenID Connect)",
        "Google Cloud console → APIs & Services → Credentials → OAuth 2.0 Client IDs",
        "Issuer",
        "",
        "Client ID",
        "Client secret",
        "Authorized redirect URIs",
        issuer="https://accounts.google.com",
    ),
    "generic": OidcPreset(
        "generic",
        "Any OpenID Connect IdP",
        "your IdP's application settings",
        "Issuer URL",
        "The issuer of the IdP's discovery document (/.well-known/openid-configuration).",
        "Client ID",
        "Client secret",
        "Redirect URI",
    ),
}
SAML: Final = {
    "okta": SamlPreset(
        "okta",
        "Okta (SAML 2.0)",
        "Okta Admin Console → Applications → your app → Sign On",
        "Metadata URL",
        "Single sign-on URL",
        "Audience URI (SP Entity ID)",
    ),
    "azure_ad": SamlPreset(
        "azure_ad",
        "Microsoft Entra ID (SAML)",
        "Entra admin center → Enterprise applications → your app → Single sign-on",
        "App Federation Metadata Url",
        "Reply URL (Assertion Consumer Service URL)",
        "Identifier (Entity ID)",
    ),
    "generic": SamlPreset(
        "generic",
        "Any SAML 2.0 IdP",
        "your IdP's application settings",
        "IdP metadata URL",
        "Assertion Consumer Service (ACS) URL",
        "SP entity ID (Audience)",
    ),
}
VENDOR_NAMES: Final = {
    "okta": "Okta",
    "azure_ad": "Microsoft Entra ID",
    "google": "Google",
    "generic": "Generic",
}
