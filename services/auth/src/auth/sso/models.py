"""The SSO records of the auth service, as frozen dataclasses (protobuf stays on the wire)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from meshkit.secretbox import Sealed

# Stored spellings.
VENDOR_GENERIC: Final = "generic"
VENDOR_OKTA: Final = "okta"
VENDOR_AZURE_AD: Final = "azure_ad"
VENDOR_GOOGLE: Final = "google"
VENDORS: Final = (VENDOR_GENERIC, VENDOR_OKTA, VENDOR_AZURE_AD, VENDOR_GOOGLE)

POLICY_CREATE: Final = "create_users"
POLICY_LINK: Final = "link_existing_users"
POLICY_DENY: Final = "deny_unknown_users"
POLICIES: Final = (POLICY_CREATE, POLICY_LINK, POLICY_DENY)

UPDATE_FIRST_LOGIN: Final = "first_login"
UPDATE_EVERY_LOGIN: Final = "every_login"
PROFILE_UPDATES: Final = (UPDATE_FIRST_LOGIN, UPDATE_EVERY_LOGIN)

PROTOCOL_OIDC: Final = "oidc"
PROTOCOL_SAML: Final = "saml"

OUTCOME_SUCCESS: Final = "success"
OUTCOME_FAILURE: Final = "failure"
OUTCOME_RESTARTED: Final = "restarted"
# A logout the IdP reports as partial (saml-core 3.7.3.2, PartialLogout).
OUTCOME_PARTIAL: Final = "partial"

KIND_LOGIN: Final = "login"
KIND_LOGOUT: Final = "logout"


@dataclass(frozen=True)
class AttributeMapping:
    """Claim names per attribute; "" turns the attribute off."""

    email: str
    given_name: str
    family_name: str
    display_name: str
    space_name: str
    space_role: str
    timezone: str
    groups: str


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    discovery_url: str
    client_id: str
    scopes: tuple[str, ...]
    vendor: str
    entra_tenant_id: str
    allowed_tenant_ids: tuple[str, ...]
    signing_algorithms: tuple[str, ...]
    client_secret: Sealed | None = field(repr=False)
    # Ask the userinfo endpoint after the ID token (auth.sso.oidc.userinfo).
    userinfo: bool = False
    # Send the browser to the IdP's end_session_endpoint at logout (RP-Initiated Logout 1.0).
    rp_logout: bool = True

    @property
    def multi_tenant(self) -> bool:
        """An Entra issuer template: ``iss`` is checked as the template filled with ``tid``."""
        return "{tenantid}" in self.issuer


@dataclass(frozen=True)
class SamlConfig:
    """A SAML 2.0 IdP (sso-security.md §2): what every response of this connection must match.

    ``certificates`` are the pinned IdP signing certificates (PEM or bare base64; two or more
    during a rollover). The SP key pair decrypts encrypted assertions; its private key is kept
    sealed at rest (secretbox) and opened only for the validator."""

    idp_entity_id: str
    sso_url: str
    certificates: tuple[str, ...]
    sp_entity_id: str
    acs_url: str
    vendor: str = VENDOR_GENERIC
    name_id_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    want_response_signed: bool = False
    allow_sha1: bool = False
    allow_idp_initiated: bool = False
    clock_skew_seconds: int = 120
    sp_certificate: str = ""
    metadata_url: str = ""
    # The IdP's SingleLogoutService (HTTP-Redirect binding); "" when it has none.
    slo_url: str = ""
    # The SP private key as stored (sealed); the flow opens it into ``sp_private_key``.
    sealed_sp_key: Sealed | None = field(default=None, repr=False)
    sp_private_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Connection:
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    display_name: str
    protocol: str
    domains: tuple[str, ...]
    mapping: AttributeMapping
    provisioning_policy: str
    profile_update: str
    default_space: str
    default_space_role: str
    enabled: bool
    created_by: str
    create_time: datetime
    update_time: datetime
    version: int
    oidc: OidcConfig | None
    saml: SamlConfig | None = None


@dataclass(frozen=True)
class LoginTransaction:
    """A started login: what the callback must match and what the token exchange needs.

    Single use: ``already_consumed`` once a verified response has used it."""

    connection_id: uuid.UUID
    account_id: uuid.UUID
    binding_hash: bytes = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    return_to: str
    issuer: str
    create_time: datetime
    expire_time: datetime
    expired: bool
    already_consumed: bool
    # A test sign-in (the setup wizard's dry run): nothing is written, no session opened.
    test: bool = False


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    account_id: uuid.UUID
    user_id: uuid.UUID
    connection_id: uuid.UUID | None
    create_time: datetime
    # The absolute end (SESSION_TTL from the sign-in); the idle end is last_use_time plus
    # SESSION_IDLE_TTL.
    expire_time: datetime
    revoke_time: datetime | None
    revoke_reason: str = ""
    ip_address: str = field(default="", repr=False)
    user_agent: str = ""
    last_use_time: datetime | None = None


@dataclass(frozen=True)
class SessionCredentials:
    session: Session
    secret_hash: bytes = field(repr=False)
    logout: StoredLogout | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StoredLogout:
    """A session's logout handle as stored: the ID token sealed (secretbox)."""

    oidc_sid: str = ""
    oidc_sub: str = field(default="", repr=False)
    sealed_id_token: Sealed | None = field(default=None, repr=False)
    saml_name_id: str = field(default="", repr=False)
    saml_name_id_format: str = ""
    saml_name_qualifier: str = ""
    saml_sp_name_qualifier: str = ""
    saml_session_index: str = ""


@dataclass(frozen=True)
class LoginTrace:
    id: uuid.UUID
    account_id: uuid.UUID
    connection_id: uuid.UUID
    time: datetime
    trace_id: str
    stage: str
    outcome: str
    reason: str
    detail: str
    subject: str
    email: str
    user_id: uuid.UUID | None
    claims: dict[str, Any]
    groups: tuple[str, ...]
    clock_delta_seconds: float | None
    duration_ms: float | None
    kind: str = KIND_LOGIN
    test: bool = False
    test_result: dict[str, Any] | None = None
