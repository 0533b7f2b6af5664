"""TestConnection for a SAML connection: what is wrong before a user's login fails.

The pinned signing certificates (readable, in date, and how long until one expires: the most
common cause of a sudden SAML outage), the SSO URL, our sealed SP key, and when the connection
follows a metadata URL, whether that document still parses and names the same IdP and
certificates. Read-only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509

from auth.sso.http import IdpHttp, IdpHttpError
from auth.sso.models import SamlConfig
from auth.sso.saml.connections import parse_idp_metadata
from auth.sso.saml.metadata_refresh import fetch_metadata
from auth.sso.saml.validator import certificate_der
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument

# Warn this long before a pinned certificate expires: time to publish and pin the next one.
EXPIRY_WARNING = timedelta(days=30)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _check(name: str, ok: bool, detail: str) -> auth_pb2.ConnectionCheck:
    return auth_pb2.ConnectionCheck(name=name, ok=ok, detail=detail)


def certificate_check(certificates: tuple[str, ...], now: datetime) -> auth_pb2.ConnectionCheck:
    """Every pinned certificate must parse and be in date; the detail names each one's expiry
    and warns when it is near (a rollover adds the next certificate beside it)."""
    notes, ok = [], bool(certificates)
    for number, pem in enumerate(certificates, start=1):
        try:
            cert = x509.load_der_x509_certificate(certificate_der(pem))
        except ValueError:
            ok = False
            notes.append(f"certificate {number} is unreadable")
            continue
        expires = cert.not_valid_after_utc
        if expires <= now:
            ok = False
            notes.append(f"certificate {number} expired on {expires:%Y-%m-%d}")
        elif expires - now <= EXPIRY_WARNING:
            notes.append(
                f"certificate {number} expires on {expires:%Y-%m-%d}: pin the IdP's next one"
            )
        else:
            notes.append(f"certificate {number} is valid until {expires:%Y-%m-%d}")
    return _check("certificates", ok, "; ".join(notes) or "no signing certificate is pinned")


def sso_url_check(sso_url: str) -> auth_pb2.ConnectionCheck:
    """The HTTP-Redirect SSO URL must be https (plain http only on loopback, for tests)."""
    parts = urlsplit(sso_url)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    ok = bool(parts.hostname) and secure
    detail = f"users are sent to {sso_url}" if ok else f"{sso_url!r} is not an https URL"
    return _check("sso_url", ok, detail)


async def metadata_check(http: IdpHttp, saml: SamlConfig) -> auth_pb2.ConnectionCheck:
    """The metadata URL still answers with metadata for the same IdP and certificates."""
    try:
        xml = await fetch_metadata(http, saml.metadata_url)
        entity_id, _, certificates = await asyncio.to_thread(parse_idp_metadata, xml)
    except (IdpHttpError, InvalidArgument) as error:
        return _check("metadata", False, f"{saml.metadata_url}: {error}")
    if entity_id != saml.idp_entity_id:
        return _check(
            "metadata",
            False,
            f"the metadata now names the IdP {entity_id!r}, not {saml.idp_entity_id!r}",
        )
    pinned = {certificate_der(c) for c in saml.certificates}
    new = [c for c in certificates if certificate_der(c) not in pinned]
    if new:
        return _check(
            "metadata",
            True,
            f"the metadata publishes {len(new)} certificate(s) not pinned yet; the next refresh"
            " (every 6 hours) pins them",
        )
    return _check("metadata", True, f"{saml.metadata_url} matches the pinned settings")


async def check_saml(http: IdpHttp, saml: SamlConfig) -> list[auth_pb2.ConnectionCheck]:
    """The checks of one SAML connection, in the order a login meets them."""
    checks = [
        sso_url_check(saml.sso_url),
        certificate_check(saml.certificates, datetime.now(UTC)),
        _check(
            "sp_key",
            saml.sealed_sp_key is not None,
            "our SP key pair is stored (sealed)"
            if saml.sealed_sp_key is not None
            else "no SP key is stored: recreate the connection",
        ),
    ]
    if saml.metadata_url:
        checks.append(await metadata_check(http, saml))
    return checks
