"""SAML connections an admin creates: the checked draft (from fields or IdP metadata), our SP
key pair, and the SP metadata we publish. Pure functions except key generation (CPU: call them
in a thread)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from xml.sax.saxutils import quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata

from auth.sso.connections import (
    _SLUG,
    MAX_DISPLAY_NAME,
    POLICIES,
    PROFILE_UPDATES,
    _mapping,
    check_domains,
    check_url,
    default_display_name,
)
from auth.sso.models import (
    PROTOCOL_SAML,
    VENDOR_AZURE_AD,
    VENDOR_GENERIC,
    VENDOR_OKTA,
    Connection,
    SamlConfig,
)
from auth.sso.saml.connector import acs_path, metadata_path
from auth.sso.saml.logout import slo_url_of
from auth.sso.saml.presets import SAML_MAPPINGS
from auth.sso.saml.validator import _PEM_BODY, MAX_SKEW_SECONDS, certificate_der
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument

SAML_VENDORS: Final = {
    auth_pb2.SAML_VENDOR_UNSPECIFIED: VENDOR_GENERIC,
    auth_pb2.SAML_VENDOR_GENERIC: VENDOR_GENERIC,
    auth_pb2.SAML_VENDOR_OKTA: VENDOR_OKTA,
    auth_pb2.SAML_VENDOR_AZURE_AD: VENDOR_AZURE_AD,
}
_DEFAULT_NAMES: Final = {
    VENDOR_GENERIC: "saml",
    VENDOR_OKTA: "okta-saml",
    VENDOR_AZURE_AD: "entra-saml",
}
EMAIL_FORMAT: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
MAX_METADATA: Final = 512 * 1024
MAX_CERTIFICATES: Final = 5
SP_KEY_YEARS: Final = 10
_REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
_POST: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


@dataclass(frozen=True)
class SpKeyPair:
    certificate_pem: str
    private_key_pem: str = field(repr=False)


def generate_sp_key_pair(common_name: str) -> SpKeyPair:
    """A per-connection RSA-2048 key and self-signed certificate for the SP metadata (signing
    and encryption KeyDescriptors): IdPs pin it, nobody validates a chain."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SP_KEY_YEARS))
        .sign(key, hashes.SHA256())
    )
    return SpKeyPair(
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )


def parse_idp_metadata(xml: str) -> tuple[str, str, tuple[str, ...]]:
    """(entity id, HTTP-Redirect SSO URL, signing certificates) from IdP metadata XML. DTDs
    are refused by python3-saml's parser."""
    if len(xml) > MAX_METADATA:
        raise InvalidArgument("the metadata is too large", field="connection.saml.metadata_xml")
    try:
        parsed: dict[str, Any] = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=_REDIRECT
        )
    except Exception as error:
        raise InvalidArgument(
            f"unreadable IdP metadata ({type(error).__name__})",
            field="connection.saml.metadata_xml",
        ) from None
    idp = parsed.get("idp", {})
    certs: list[str] = list(idp.get("x509certMulti", {}).get("signing", []))
    if not certs and idp.get("x509cert"):
        certs = [idp["x509cert"]]
    return (
        str(idp.get("entityId", "")),
        str(idp.get("singleSignOnService", {}).get("url", "")),
        tuple(certs),
    )


def idp_slo_url(xml: str) -> str:
    """The IdP's SingleLogoutService URL for the HTTP-Redirect binding, "" when it has none."""
    try:
        parsed: dict[str, Any] = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=_REDIRECT, required_slo_binding=_REDIRECT
        )
    except Exception:  # parse_idp_metadata has refused what cannot be read
        return ""
    return str(parsed.get("idp", {}).get("singleLogoutService", {}).get("url", ""))


def _certificates(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    certs = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not certs:
        raise InvalidArgument(
            "at least one IdP signing certificate is required", field="connection.saml.certificates"
        )
    if len(certs) > MAX_CERTIFICATES:
        raise InvalidArgument("too many certificates", field="connection.saml.certificates")
    for cert in certs:
        der = certificate_der(cert)
        try:
            x509.load_der_x509_certificate(der)
        except ValueError:
            raise InvalidArgument(
                "not an X.509 certificate", field="connection.saml.certificates"
            ) from None
    return certs


def saml_connection_draft(
    message: auth_pb2.Connection,
    account_id: uuid.UUID,
    connection_id: uuid.UUID,
    public_url: str,
    sp_keys: SpKeyPair,
) -> Connection:
    """The checked connection; the metadata (when given) fills the IdP fields left empty."""
    saml = message.saml
    entity_id, sso_url, certs = (
        saml.idp_entity_id.strip(),
        saml.sso_url.strip(),
        list(saml.certificates),
    )
    slo_url = saml.slo_url.strip()
    if saml.metadata_xml:
        meta_entity, meta_sso, meta_certs = parse_idp_metadata(saml.metadata_xml)
        entity_id = entity_id or meta_entity
        sso_url = sso_url or meta_sso
        certs = certs or list(meta_certs)
        slo_url = slo_url or idp_slo_url(saml.metadata_xml)
    if not entity_id or len(entity_id) > 1024:
        raise InvalidArgument(
            "the IdP entity id is required", field="connection.saml.idp_entity_id"
        )
    sso_url = check_url(sso_url, "connection.saml.sso_url")
    if slo_url:
        slo_url = check_url(slo_url, "connection.saml.slo_url")
    metadata_url = saml.metadata_url.strip()
    if metadata_url:
        metadata_url = check_url(metadata_url, "connection.saml.metadata_url")
    base = check_url(public_url.rstrip("/"), "public_url")
    skew = saml.clock_skew_seconds or 120
    if not 0 <= skew <= MAX_SKEW_SECONDS:
        raise InvalidArgument(
            f"the clock skew must be 0 to {MAX_SKEW_SECONDS} seconds",
            field="connection.saml.clock_skew_seconds",
        )
    vendor = SAML_VENDORS.get(saml.vendor, VENDOR_GENERIC)
    name = message.name.strip() or _DEFAULT_NAMES[vendor]
    if not _SLUG.match(name):
        raise InvalidArgument("lower-case letters, digits and hyphens", field="connection.name")
    display_name = message.display_name.strip()[:MAX_DISPLAY_NAME] or default_display_name(
        {VENDOR_OKTA: "Okta", VENDOR_AZURE_AD: "Microsoft"}.get(vendor, "SAML"),
        name,
        _DEFAULT_NAMES[vendor],
    )
    now = datetime.now(UTC)
    return Connection(
        id=connection_id,
        account_id=account_id,
        name=name,
        display_name=display_name,
        protocol=PROTOCOL_SAML,
        domains=check_domains(list(message.domains)),
        mapping=_mapping(message.attribute_mapping, SAML_MAPPINGS[vendor]),
        provisioning_policy=POLICIES[message.provisioning_policy],
        profile_update=PROFILE_UPDATES[message.profile_update],
        default_space=message.default_space.strip(),
        default_space_role=message.default_space_role.strip(),
        enabled=True,
        created_by=message.created_by.strip()[:200],
        create_time=now,
        update_time=now,
        version=1,
        oidc=None,
        saml=SamlConfig(
            idp_entity_id=entity_id,
            sso_url=sso_url,
            certificates=_certificates(certs),
            sp_entity_id=base + metadata_path(connection_id),
            acs_url=base + acs_path(connection_id),
            vendor=vendor,
            name_id_format=saml.name_id_format.strip() or EMAIL_FORMAT,
            want_response_signed=saml.want_response_signed,
            allow_sha1=saml.allow_sha1,
            allow_idp_initiated=saml.allow_idp_initiated,
            clock_skew_seconds=skew,
            sp_certificate=sp_keys.certificate_pem,
            metadata_url=metadata_url,
            slo_url=slo_url,
        ),
    )


def sp_metadata(config: SamlConfig) -> str:
    """Our SP metadata (saml-metadata 2.4.4): entity id, the ACS (HTTP-POST), the
    SingleLogoutService (HTTP-Redirect and HTTP-POST), signed assertions wanted, the SP
    certificate for signing and for encryption (an IdP may encrypt assertions to us; plain
    signed ones stay accepted)."""
    slo = slo_url_of(config.acs_url)
    sp = {
        "entityId": config.sp_entity_id,
        "assertionConsumerService": {
            "url": config.acs_url,
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
        },
        "singleLogoutService": {"url": slo, "binding": _REDIRECT},
        "NameIDFormat": config.name_id_format,
    }
    metadata = OneLogin_Saml2_Metadata.builder(sp, False, True)
    metadata = metadata.decode() if isinstance(metadata, bytes) else str(metadata)
    # python3-saml writes one SingleLogoutService; the HTTP-POST one goes right after it.
    position = metadata.find("<md:SingleLogoutService")
    end = metadata.find("/>", position) + 2
    post = f'<md:SingleLogoutService Binding="{_POST}" Location={quoteattr(slo)} />'
    metadata = metadata[:end] + post + metadata[end:]
    cert = _PEM_BODY.sub("", config.sp_certificate)
    metadata = OneLogin_Saml2_Metadata.add_x509_key_descriptors(metadata, cert, True)
    return metadata.decode() if isinstance(metadata, bytes) else str(metadata)
