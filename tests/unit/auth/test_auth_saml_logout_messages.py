"""The strict reading of SAML logout messages (auth.sso.saml.logout), one test per check: the
login response's strictness (reference/sso-security.md §2) applied to LogoutRequest and
LogoutResponse over both bindings (saml-bindings 3.4.4.1 and 3.5)."""

from __future__ import annotations

import base64
import time
import zlib
from urllib.parse import quote_plus, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from auth.sso.saml.logout import (
    BINDING_POST,
    BINDING_REDIRECT,
    LogoutExpectations,
    LogoutMessage,
    read_logout_message,
)
from auth.sso.saml.validator import SamlError
from tests.idps.saml.logout_requests import RSA_SHA256, logout_request_xml, redirect_url
from tests.idps.saml.responses import KeyPair, sign_element

IDP = "https://idp.acme.test/metadata"
SLO = "https://idmesh.test/sso/saml/0b0e2a44-4d2e-4a5e-9f5e-2f1f1d6c1a01/slo"
KEYS = KeyPair.generate("idp.acme.test")
EXPECT = LogoutExpectations(idp_entity_id=IDP, certificates=(KEYS.cert_pem,), slo_url=SLO)
EMAIL = "ada@acme.test"


def _redirect(xml: str, key_pem: str | None = KEYS.key_pem) -> LogoutMessage:
    return LogoutMessage(
        BINDING_REDIRECT, raw_query=urlsplit(redirect_url(SLO, xml, key_pem)).query
    )


def _post(xml: str, keys: KeyPair | None = KEYS) -> LogoutMessage:
    element = etree.fromstring(xml.encode())
    if keys is not None:
        element = sign_element(element, keys)
    return LogoutMessage(
        BINDING_POST, saml_request=base64.b64encode(etree.tostring(element)).decode()
    )


def _request(**changes: str) -> str:
    return logout_request_xml(
        issuer=changes.get("issuer", IDP),
        destination=changes.get("destination", SLO),
        name_id=changes.get("name_id", EMAIL),
    )


def _reason(message: LogoutMessage) -> str:
    with pytest.raises(SamlError) as refused:
        read_logout_message(message, EXPECT, time.time())
    return refused.value.reason


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_signed_logout_request_names_its_name_id(binding: str) -> None:
    """saml-core 3.7.1 over either binding: verified, its NameID and id read."""
    message = _redirect(_request()) if binding == "redirect" else _post(_request())
    inbound = read_logout_message(message, EXPECT, time.time())
    assert inbound.is_request
    assert inbound.name_id == EMAIL
    assert inbound.id.startswith("_")


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_an_unsigned_logout_request_is_refused(binding: str) -> None:
    message = _redirect(_request(), None) if binding == "redirect" else _post(_request(), None)
    assert _reason(message) == "message_unsigned"


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_signature_by_an_unpinned_key_is_refused(binding: str) -> None:
    """Row 11: only the pinned certificates verify; a KeyInfo certificate that is not pinned
    is refused outright."""
    impostor = KeyPair.generate("impostor")
    if binding == "redirect":
        assert _reason(_redirect(_request(), impostor.key_pem)) == "signature_invalid"
    else:
        assert _reason(_post(_request(), impostor)) == "certificate_not_pinned"


def test_a_post_request_changed_after_signing_is_refused() -> None:
    signed = base64.b64decode(_post(_request()).saml_request)
    tampered = signed.replace(EMAIL.encode(), b"eve@acme.test")
    message = LogoutMessage(BINDING_POST, saml_request=base64.b64encode(tampered).decode())
    assert _reason(message) == "signature_invalid"


def test_a_redirect_query_changed_after_signing_is_refused() -> None:
    message = _redirect(_request())
    changed = LogoutMessage(BINDING_REDIRECT, raw_query=message.raw_query + "&RelayState=x")
    assert _reason(changed) == "signature_invalid"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"destination": SLO + "/elsewhere"}, "destination_mismatch"),
        ({"destination": ""}, "destination_mismatch"),
        ({"issuer": "https://evil.test/metadata"}, "issuer_mismatch"),
        ({"name_id": ""}, "name_id_missing"),
    ],
)
def test_destination_issuer_and_name_id_must_be_exact(changes: dict[str, str], reason: str) -> None:
    assert _reason(_redirect(_request(**changes))) == reason


def test_an_old_logout_request_is_refused() -> None:
    """IssueInstant more than ten minutes (plus skew) ago: the replay cache's window is over."""
    inbound = read_logout_message(_redirect(_request()), EXPECT, time.time())
    assert inbound.expire_at > time.time()
    with pytest.raises(SamlError) as refused:
        read_logout_message(_redirect(_request()), EXPECT, time.time() + 3600)
    assert refused.value.reason == "expired"


def test_a_dtd_is_refused_before_parsing() -> None:
    """Row 9: no DTD or entity, whatever the binding."""
    xml = '<!DOCTYPE x [<!ENTITY e "x">]>' + _request()
    assert _reason(_redirect(xml)) == "dtd_forbidden"


def test_a_comment_is_refused() -> None:
    """Row 2: c14n drops comments, so a comment inside a NameID could change it unseen."""
    xml = _request().replace(EMAIL, "ada@acme.test<!---->.evil.test")
    assert _reason(_redirect(xml)) == "xml_comment"


def test_a_deflate_bomb_is_cut_at_the_size_limit() -> None:
    """Row 16: a signed query whose DEFLATE expands past the limit stops there."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(b"<a>" + b"x" * (8 * 1024 * 1024)) + compressor.flush()
    query = (
        f"SAMLRequest={quote_plus(base64.b64encode(bomb).decode())}&SigAlg={quote_plus(RSA_SHA256)}"
    )
    key = serialization.load_pem_private_key(KEYS.key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
    query += f"&Signature={quote_plus(base64.b64encode(signature).decode())}"
    assert _reason(LogoutMessage(BINDING_REDIRECT, raw_query=query)) == "response_too_large"


def test_a_logout_response_reports_partial_logout() -> None:
    """saml-core 3.7.3.2: PartialLogout as the second-level status."""
    xml = (
        '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0"'
        f' IssueInstant="{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}"'
        f' Destination="{SLO}" InResponseTo="_q1"><saml:Issuer>{IDP}</saml:Issuer>'
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success">'
        '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:PartialLogout"/>'
        "</samlp:StatusCode></samlp:Status></samlp:LogoutResponse>"
    )
    element = sign_element(etree.fromstring(xml.encode()), KEYS)
    message = LogoutMessage(
        BINDING_POST, saml_response=base64.b64encode(etree.tostring(element)).decode()
    )
    inbound = read_logout_message(message, EXPECT, time.time())
    assert not inbound.is_request
    assert (inbound.in_response_to, inbound.partial) == ("_q1", True)


def test_a_request_where_a_response_belongs_is_refused() -> None:
    element = sign_element(etree.fromstring(_request().encode()), KEYS)
    message = LogoutMessage(
        BINDING_POST, saml_response=base64.b64encode(etree.tostring(element)).decode()
    )
    assert _reason(message) == "message_malformed"
