"""A test SAML IdP in Python: genuinely signed Responses (signxml, an implementation independent
of the libxmlsec1 python3-saml uses), and the pieces the attack corpus tampers with.

``SamlTestIdp.response(...)`` builds the unsigned document as a real IdP would (Okta's shape:
Issuer, Status, one Assertion with Subject, bearer SubjectConfirmation, Conditions with an
AudienceRestriction, AuthnStatement, AttributeStatement); ``sign`` signs the assertion and/or the
response with a placeholder ds:Signature right after the Issuer, where the schema wants it.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import CanonicalizationMethod
from signxml.signer import XMLSigner

SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
NS: Final = {"samlp": SAMLP, "saml": SAML, "ds": DS}
EMAIL_FORMAT: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


@dataclass(frozen=True)
class KeyPair:
    key_pem: str = field(repr=False)
    cert_pem: str

    @classmethod
    def generate(cls, common_name: str = "test-idp") -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return cls(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())


def saml_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return "_" + secrets.token_hex(16)


@dataclass
class ResponseSpec:
    """Every field a test may change; None leaves an attribute or element out."""

    acs_url: str
    audience: str
    issuer: str
    request_id: str | None
    name_id: str = "ada@acme.test"
    attributes: dict[str, list[str]] = field(default_factory=dict)
    destination: str | None = None  # defaults to acs_url
    recipient: str | None = None  # defaults to acs_url
    omit_destination: bool = False
    omit_recipient: bool = False
    confirmation_request_id: str | None = None  # defaults to request_id
    issued: float = field(default_factory=time.time)
    not_before: float | None = None
    not_on_or_after: float | None = None
    response_id: str = field(default_factory=new_id)
    assertion_id: str = field(default_factory=new_id)


def build(spec: ResponseSpec) -> etree._Element:
    """The unsigned Response document."""
    issued = spec.issued
    not_before = spec.not_before if spec.not_before is not None else issued - 30
    not_after = spec.not_on_or_after if spec.not_on_or_after is not None else issued + 300
    response = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML})
    response.set("ID", spec.response_id)
    response.set("Version", "2.0")
    response.set("IssueInstant", saml_time(issued))
    if not spec.omit_destination:
        response.set("Destination", spec.destination or spec.acs_url)
    if spec.request_id is not None:
        response.set("InResponseTo", spec.request_id)
    etree.SubElement(response, f"{{{SAML}}}Issuer").text = spec.issuer
    status = etree.SubElement(response, f"{{{SAMLP}}}Status")
    etree.SubElement(status, f"{{{SAMLP}}}StatusCode").set(
        "Value", "urn:oasis:names:tc:SAML:2.0:status:Success"
    )
    assertion = etree.SubElement(response, f"{{{SAML}}}Assertion")
    assertion.set("ID", spec.assertion_id)
    assertion.set("Version", "2.0")
    assertion.set("IssueInstant", saml_time(issued))
    etree.SubElement(assertion, f"{{{SAML}}}Issuer").text = spec.issuer
    subject = etree.SubElement(assertion, f"{{{SAML}}}Subject")
    name_id = etree.SubElement(subject, f"{{{SAML}}}NameID")
    name_id.set("Format", EMAIL_FORMAT)
    name_id.text = spec.name_id
    confirmation = etree.SubElement(subject, f"{{{SAML}}}SubjectConfirmation")
    confirmation.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
    data = etree.SubElement(confirmation, f"{{{SAML}}}SubjectConfirmationData")
    confirmation_to = spec.confirmation_request_id or spec.request_id
    if confirmation_to is not None:
        data.set("InResponseTo", confirmation_to)
    data.set("NotOnOrAfter", saml_time(not_after))
    if not spec.omit_recipient:
        data.set("Recipient", spec.recipient or spec.acs_url)
    conditions = etree.SubElement(assertion, f"{{{SAML}}}Conditions")
    conditions.set("NotBefore", saml_time(not_before))
    conditions.set("NotOnOrAfter", saml_time(not_after))
    restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
    etree.SubElement(restriction, f"{{{SAML}}}Audience").text = spec.audience
    authn = etree.SubElement(assertion, f"{{{SAML}}}AuthnStatement")
    authn.set("AuthnInstant", saml_time(issued))
    authn.set("SessionIndex", new_id())
    context = etree.SubElement(authn, f"{{{SAML}}}AuthnContext")
    etree.SubElement(
        context, f"{{{SAML}}}AuthnContextClassRef"
    ).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    if spec.attributes:
        statement = etree.SubElement(assertion, f"{{{SAML}}}AttributeStatement")
        for name, values in spec.attributes.items():
            attribute = etree.SubElement(statement, f"{{{SAML}}}Attribute")
            attribute.set("Name", name)
            for value in values:
                etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = value
    return response


def _signer(algorithm: str = "rsa-sha256", digest: str = "sha256") -> XMLSigner:
    return XMLSigner(
        signature_algorithm=algorithm,
        digest_algorithm=digest,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )


def sign_element(element: etree._Element, keys: KeyPair) -> etree._Element:
    """An enveloped signature of ``element`` (by its ID), placed right after its Issuer."""
    document = etree.fromstring(etree.tostring(element))
    placeholder = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    placeholder.set("Id", "placeholder")
    issuer = document.find("saml:Issuer", NS)
    index = list(document).index(issuer) + 1 if issuer is not None else 0
    document.insert(index, placeholder)
    signed: etree._Element = _signer().sign(
        document, key=keys.key_pem, cert=keys.cert_pem, reference_uri=document.get("ID")
    )
    return signed


def sign(
    response: etree._Element,
    keys: KeyPair,
    *,
    assertion: bool = True,
    whole_response: bool = False,
) -> etree._Element:
    """Signs the assertion (in place in the response) and/or the whole response."""
    if assertion:
        node = response.find("saml:Assertion", NS)
        assert node is not None
        signed = sign_element(node, keys)
        response.replace(node, signed)
    if whole_response:
        response = sign_element(response, keys)
    return response


def encode(document: etree._Element | bytes) -> str:
    raw = document if isinstance(document, bytes) else etree.tostring(document)
    return base64.b64encode(raw).decode()


XENC: Final = "http://www.w3.org/2001/04/xmlenc#"


def encrypt_assertion(response: etree._Element, sp_cert_pem: str) -> etree._Element:
    """Replaces the (signed) assertion by an EncryptedAssertion to the SP's certificate:
    AES-256-CBC content key, RSA-OAEP key transport, as samlify does (real-idps.md §3)."""
    import xmlsec

    assertion = response.find("saml:Assertion", NS)
    assert assertion is not None
    wrapper = etree.Element(f"{{{SAML}}}EncryptedAssertion")
    response.replace(assertion, wrapper)
    wrapper.append(assertion)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_cert_pem, xmlsec.constants.KeyDataFormatCertPem))
    template = xmlsec.template.encrypted_data_create(
        response,
        xmlsec.constants.TransformAes256Cbc,
        type=xmlsec.constants.TypeEncElement,
        ns="xenc",
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="dsig")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(
        xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession
    )
    context.encrypt_xml(template, assertion)
    return response


def sign_with_xmlsec(response: etree._Element, keys: KeyPair) -> etree._Element:
    """The assertion signed by libxmlsec1 (through python3-saml's helper, RSA-SHA256): ~10x
    cheaper than signxml, for load generation where the client's CPU competes with the mesh."""
    from onelogin.saml2.constants import OneLogin_Saml2_Constants
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    assertion = response.find("saml:Assertion", NS)
    assert assertion is not None
    signed = OneLogin_Saml2_Utils.add_sign(
        etree.tostring(assertion),
        keys.key_pem,
        keys.cert_pem,
        sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA256,
        digest_algorithm=OneLogin_Saml2_Constants.SHA256,
    )
    response.replace(assertion, etree.fromstring(signed))
    return response
