"""Checks of a connection an admin creates, pure: the clean draft or InvalidArgument naming the
offending field. Vendor presets fill what is left empty (auth.sso.oidc.presets)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from auth.sso.models import (
    POLICY_CREATE,
    POLICY_DENY,
    POLICY_LINK,
    PROTOCOL_OIDC,
    UPDATE_EVERY_LOGIN,
    UPDATE_FIRST_LOGIN,
    VENDOR_AZURE_AD,
    VENDOR_GENERIC,
    VENDOR_GOOGLE,
    VENDOR_OKTA,
    AttributeMapping,
)
from auth.sso.oidc import presets
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument

# Connection names are CLI handles: lower-case letters, digits and inner hyphens.
_SLUG: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A DNS name of at least two labels, lower-case ASCII (IDNs in their xn-- form).
_DOMAIN: Final = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
# RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
_SCOPE: Final = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
# An Entra tenant id is a GUID (a verified domain name also works in issuer URLs).
_TENANT: Final = re.compile(r"^[0-9a-fA-F-]{36}$|^[a-z0-9.-]{3,253}$")
_OFF: Final = "-"
_DEFAULT_NAMES: Final = {
    VENDOR_GENERIC: "oidc",
    VENDOR_OKTA: "okta",
    VENDOR_AZURE_AD: "entra",
    VENDOR_GOOGLE: "google",
}
MAX_DOMAINS: Final = 100
MAX_DISPLAY_NAME: Final = 80
MAX_CLAIM_NAME: Final = 200
MAX_CLIENT_ID: Final = 255
MAX_CLIENT_SECRET: Final = 4096

VENDORS: Final = {
    auth_pb2.OIDC_VENDOR_UNSPECIFIED: VENDOR_GENERIC,
    auth_pb2.OIDC_VENDOR_GENERIC: VENDOR_GENERIC,
    auth_pb2.OIDC_VENDOR_OKTA: VENDOR_OKTA,
    auth_pb2.OIDC_VENDOR_AZURE_AD: VENDOR_AZURE_AD,
    auth_pb2.OIDC_VENDOR_GOOGLE: VENDOR_GOOGLE,
}
POLICIES: Final = {
    auth_pb2.PROVISIONING_POLICY_UNSPECIFIED: POLICY_CREATE,
    auth_pb2.PROVISIONING_POLICY_CREATE_USERS: POLICY_CREATE,
    auth_pb2.PROVISIONING_POLICY_LINK_EXISTING_USERS: POLICY_LINK,
    auth_pb2.PROVISIONING_POLICY_DENY_UNKNOWN_USERS: POLICY_DENY,
}
PROFILE_UPDATES: Final = {
    auth_pb2.PROFILE_UPDATE_UNSPECIFIED: UPDATE_FIRST_LOGIN,
    auth_pb2.PROFILE_UPDATE_FIRST_LOGIN: UPDATE_FIRST_LOGIN,
    auth_pb2.PROFILE_UPDATE_EVERY_LOGIN: UPDATE_EVERY_LOGIN,
}


@dataclass(frozen=True)
class OidcDraft:
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    vendor: str
    entra_tenant_id: str
    allowed_tenant_ids: tuple[str, ...]
    signing_algorithms: tuple[str, ...]
    userinfo: bool
    rp_logout: bool


@dataclass(frozen=True)
class ConnectionDraft:
    """A validated connection about to be stored (its secret still in clear)."""

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
    created_by: str
    oidc: OidcDraft


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, field_name: str) -> str:
    """An absolute https URL without credentials or fragment; http only on a loopback host
    (the test IdPs of the end-to-end suite)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidArgument("must be an absolute https URL", field=field_name)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InvalidArgument("must use https (http only on a loopback host)", field=field_name)
    if parts.username or parts.password or parts.fragment:
        raise InvalidArgument("must have no credentials or fragment", field=field_name)
    if any(char.isspace() or not char.isprintable() for char in value):
        raise InvalidArgument("must not contain spaces or control characters", field=field_name)
    return value


def normalise_domain(value: str) -> str:
    """The lower-case domain, without surrounding dots; not validated."""
    return value.strip().strip(".").lower()


def check_domains(values: list[str]) -> tuple[str, ...]:
    domains: dict[str, None] = {}
    for value in values:
        domain = normalise_domain(value)
        if not _DOMAIN.match(domain):
            raise InvalidArgument(
                f"{value[:100]!r} is not a domain name", field="connection.domains"
            )
        domains[domain] = None
    if len(domains) > MAX_DOMAINS:
        raise InvalidArgument(f"at most {MAX_DOMAINS} domains", field="connection.domains")
    return tuple(sorted(domains))


def _text(value: str, field_name: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise InvalidArgument(f"must be at most {limit} characters", field=field_name)
    if any(not char.isprintable() for char in value):
        raise InvalidArgument("must not contain control characters", field=field_name)
    return value


def _mapping(given: auth_pb2.AttributeMapping, preset: AttributeMapping) -> AttributeMapping:
    values = {}
    for name in (
        "email", "given_name", "family_name", "display_name", "space_name", "space_role",
        "timezone", "groups",
    ):  # fmt: skip
        claim = _text(getattr(given, name), f"attribute_mapping.{name}", MAX_CLAIM_NAME)
        if claim == _OFF:
            claim = ""
        elif not claim:
            claim = getattr(preset, name)
        values[name] = claim
    mapping = AttributeMapping(**values)
    if not mapping.email:
        raise InvalidArgument(
            "the email claim cannot be turned off", field="attribute_mapping.email"
        )
    return mapping


def _scopes(values: list[str], preset: tuple[str, ...]) -> tuple[str, ...]:
    scopes = [value.strip() for value in values if value.strip()] or list(preset)
    for scope in scopes:
        if not _SCOPE.match(scope):
            raise InvalidArgument(f"{scope[:50]!r} is not a scope", field="oidc.scopes")
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return tuple(dict.fromkeys(scopes))


def _algorithms(values: list[str]) -> tuple[str, ...]:
    algorithms = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not algorithms:
        return presets.DEFAULT_SIGNING_ALGORITHMS
    refused = [alg for alg in algorithms if alg not in presets.ALLOWED_SIGNING_ALGORITHMS]
    if refused:
        raise InvalidArgument(
            f"{refused[0][:20]!r} is not allowed; allowed: "
            + ", ".join(sorted(presets.ALLOWED_SIGNING_ALGORITHMS)),
            field="oidc.signing_algorithms",
        )
    return algorithms


def _oidc(settings: auth_pb2.OidcSettings) -> tuple[OidcDraft, presets.Preset]:
    vendor = VENDORS.get(settings.vendor)
    if vendor is None:
        raise InvalidArgument("unknown vendor", field="oidc.vendor")
    preset = presets.PRESETS[vendor]
    tenant = settings.entra_tenant_id.strip()
    allowed_tenants = tuple(dict.fromkeys(t.strip() for t in settings.allowed_tenant_ids if t))
    for value, name in [(tenant, "entra_tenant_id")] + [(t, "allowed_tenant_ids") for t in
                                                         allowed_tenants]:  # fmt: skip
        if value and not _TENANT.match(value):
            raise InvalidArgument("not an Entra tenant id", field=f"oidc.{name}")
    if (tenant or allowed_tenants) and vendor != VENDOR_AZURE_AD:
        raise InvalidArgument("tenants apply to the azure_ad vendor only", field="oidc.vendor")
    issuer = settings.issuer.strip()
    if not issuer:
        if tenant:
            issuer = presets.entra_issuer(tenant)
        elif allowed_tenants:
            issuer = presets.ENTRA_MULTI_TENANT_ISSUER
        else:
            issuer = preset.default_issuer
    if not issuer:
        raise InvalidArgument("the issuer is required", field="oidc.issuer")
    check_url(issuer, "oidc.issuer")
    multi_tenant = presets.ENTRA_TENANT_TEMPLATE in issuer
    if multi_tenant:
        if vendor != VENDOR_AZURE_AD:
            raise InvalidArgument(
                "an issuer template needs the azure_ad vendor", field="oidc.issuer"
            )
        if not allowed_tenants:
            raise InvalidArgument(
                "a multi-tenant issuer needs the allowed tenant ids",
                field="oidc.allowed_tenant_ids",
            )
    elif "{" in issuer:
        raise InvalidArgument("the only template is {tenantid}", field="oidc.issuer")
    discovery = settings.discovery_url.strip()
    if not discovery:
        discovery = (
            presets.ENTRA_MULTI_TENANT_DISCOVERY
            if multi_tenant
            else issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
    check_url(discovery, "oidc.discovery_url")
    client_id = _text(settings.client_id, "oidc.client_id", MAX_CLIENT_ID)
    if not client_id:
        raise InvalidArgument("the client id is required", field="oidc.client_id")
    secret = settings.client_secret
    if not secret:
        raise InvalidArgument(
            "the client secret is required (client_secret_basic)", field="oidc.client_secret"
        )
    if len(secret) > MAX_CLIENT_SECRET or any(not c.isprintable() for c in secret):
        raise InvalidArgument("not a usable client secret", field="oidc.client_secret")
    draft = OidcDraft(
        issuer=issuer,
        discovery_url=discovery,
        client_id=client_id,
        client_secret=secret,
        scopes=_scopes(list(settings.scopes), preset.scopes),
        vendor=vendor,
        entra_tenant_id=tenant,
        allowed_tenant_ids=allowed_tenants,
        signing_algorithms=_algorithms(list(settings.signing_algorithms)),
        userinfo=settings.userinfo if settings.HasField("userinfo") else preset.userinfo,
        rp_logout=settings.rp_initiated_logout
        if settings.HasField("rp_initiated_logout")
        else True,
    )
    return draft, preset


def default_display_name(label: str, name: str, default_name: str) -> str:
    """The sign-in button's label when the admin gives none: the vendor's (or the IdP host's)
    label, followed by the connection's name unless it is the vendor's default name. Names are
    unique per account, so two connections of one vendor or one IdP host never share a label
    ("Okta" and "Okta (okta-eu)", not "127.0.0.1" twice)."""
    return label if name == default_name else f"{label} ({name})"[:MAX_DISPLAY_NAME]


def connection_draft(
    message: auth_pb2.Connection, account_id: uuid.UUID, connection_id: uuid.UUID
) -> ConnectionDraft:
    """The validated connection of a CreateConnection request (OIDC is the only protocol yet)."""
    if message.WhichOneof("protocol") != "oidc":
        raise InvalidArgument("the oidc settings are required", field="connection.oidc")
    oidc, preset = _oidc(message.oidc)
    name = message.name.strip() or _DEFAULT_NAMES[oidc.vendor]
    if not _SLUG.match(name):
        raise InvalidArgument(
            "a connection name is a lower-case slug: letters, digits and inner hyphens",
            field="connection.name",
        )
    display_name = _text(message.display_name, "connection.display_name", MAX_DISPLAY_NAME)
    if not display_name:
        label = preset.display_name or (urlsplit(oidc.issuer).hostname or "OpenID Connect")
        display_name = default_display_name(label, name, _DEFAULT_NAMES[oidc.vendor])
    policy = POLICIES.get(message.provisioning_policy)
    if policy is None:
        raise InvalidArgument("unknown provisioning policy", field="connection.provisioning_policy")
    update = PROFILE_UPDATES.get(message.profile_update)
    if update is None:
        raise InvalidArgument("unknown profile update mode", field="connection.profile_update")
    default_space = _text(message.default_space, "connection.default_space", 200)
    default_role = _text(message.default_space_role, "connection.default_space_role", 200)
    if default_role and not default_space:
        raise InvalidArgument(
            "a default role needs a default space", field="connection.default_space_role"
        )
    return ConnectionDraft(
        id=connection_id,
        account_id=account_id,
        name=name,
        display_name=display_name,
        protocol=PROTOCOL_OIDC,
        domains=check_domains(list(message.domains)),
        mapping=_mapping(message.attribute_mapping, preset.mapping),
        provisioning_policy=policy,
        profile_update=update,
        default_space=default_space,
        default_space_role=default_role or ("Space Member" if default_space else ""),
        created_by=_text(message.created_by, "connection.created_by", 200),
        oidc=oidc,
    )


@dataclass(frozen=True)
class ConnectionChange:
    """The validated fields of an UpdateConnection request."""

    display_name: str
    domains: tuple[str, ...]
    enabled: bool
    provisioning_policy: str
    default_space: str
    default_space_role: str
    expected_version: int
    # None: unchanged.
    profile_update: str | None = None
    # None: unchanged (OIDC RP-initiated logout).
    rp_logout: bool | None = None


def connection_change(message: auth_pb2.UpdateConnectionRequest) -> ConnectionChange:
    """What an UpdateConnection replaces, validated as at creation."""
    display_name = _text(message.display_name, "display_name", MAX_DISPLAY_NAME)
    if not display_name:
        raise InvalidArgument("a display name is required", field="display_name")
    policy = POLICIES.get(message.provisioning_policy)
    if policy is None:
        raise InvalidArgument("unknown provisioning policy", field="provisioning_policy")
    default_space = _text(message.default_space, "default_space", 200)
    default_role = _text(message.default_space_role, "default_space_role", 200)
    if default_role and not default_space:
        raise InvalidArgument("a default role needs a default space", field="default_space_role")
    if message.expected_version < 0:
        raise InvalidArgument("must not be negative", field="expected_version")
    update = None
    if message.profile_update != auth_pb2.PROFILE_UPDATE_UNSPECIFIED:
        update = PROFILE_UPDATES.get(message.profile_update)
        if update is None:
            raise InvalidArgument("unknown profile update mode", field="profile_update")
    return ConnectionChange(
        display_name=display_name,
        domains=check_domains(list(message.domains)),
        enabled=message.enabled,
        provisioning_policy=policy,
        default_space=default_space,
        default_space_role=default_role or ("Space Member" if default_space else ""),
        expected_version=message.expected_version,
        profile_update=update,
        rp_logout=message.rp_initiated_logout if message.HasField("rp_initiated_logout") else None,
    )
