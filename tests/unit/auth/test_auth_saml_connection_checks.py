"""TestConnection's SAML checks: what is wrong with a connection before a login fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auth.sso.saml.checks import certificate_check, sso_url_check

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _certificate(expires: datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(expires - timedelta(days=400))
        .not_valid_after(expires)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_an_expired_signing_certificate_fails_the_check_and_says_when() -> None:
    """An IdP certificate past its date is the classic sudden SAML outage: name it."""
    check = certificate_check((_certificate(NOW - timedelta(days=1)),), NOW)
    assert not check.ok
    assert "expired on 2026-11-21" in check.detail


def test_a_certificate_near_its_expiry_passes_with_a_rollover_warning() -> None:
    """sso-security.md row 11: pin two certificates during a rollover — say it is time."""
    check = certificate_check((_certificate(NOW + timedelta(days=10)),), NOW)
    assert check.ok
    assert "pin the IdP's next one" in check.detail


def test_during_a_rollover_both_certificates_are_reported() -> None:
    old, new = _certificate(NOW + timedelta(days=5)), _certificate(NOW + timedelta(days=700))
    check = certificate_check((old, new), NOW)
    assert check.ok
    assert "certificate 1 expires" in check.detail
    assert "certificate 2 is valid until" in check.detail


def test_an_unreadable_or_missing_certificate_fails() -> None:
    assert not certificate_check(("not a certificate",), NOW).ok
    assert not certificate_check((), NOW).ok


def test_the_sso_url_must_be_https_except_on_loopback() -> None:
    """Assertions are bearer credentials: the IdP hop must be TLS (loopback for local IdPs)."""
    assert sso_url_check("https://idp.example.com/sso").ok
    assert sso_url_check("http://127.0.0.1:9091/sso").ok
    assert not sso_url_check("http://idp.example.com/sso").ok
    assert not sso_url_check("javascript:alert(1)").ok
