"""The strict SAML Response validator: python3-saml 1.16.0 behind every check of the SP checklist.

docs/sso-security.md §2 lists what python3-saml does not do, or does too loosely; this module
closes each gap before or after handing the response to the library:

- rows 1, 3: exactly one Assertion in the whole document, a child of the Response root; every
  ds:Signature is the enveloped signature of the Response or of that Assertion, with one Reference
  to its parent's ID; the Assertion's signature is required (``wantAssertionsSigned``);
- row 2: no comments and no processing instructions anywhere (c14n drops comments, so a comment
  inside a NameID never breaks the signature: the only safe answer is to refuse the document);
- row 5: Destination and every bearer Recipient present and *exactly* the connection's ACS URL;
- row 6: the request id a response answers is read from the signed part only (the Response's
  InResponseTo when the Response is signed, else the bearer SubjectConfirmationData's); it must
  equal this browser's AuthnRequest id. An assertion that answers none is unsolicited whatever
  an unsigned envelope says, and is accepted only on the connection's opt-in;
- row 7: NotBefore / NotOnOrAfter with the connection's skew (≤ 300 s), the clock delta reported;
- row 9: no DTD, no entities (refused before any parser sees the bytes);
- row 10: signature, digest, c14n, transform and encryption algorithm allow-lists; SHA-1 only on
  the connection's opt-in (``rejectDeprecatedAlgorithm``);
- row 11: only the pinned certificates; a KeyInfo certificate that is not pinned is refused;
- row 12: Issuer of the Response (when present) and of the Assertion exactly the IdP entity id;
- row 13: encrypted assertions decrypted with our key, then all of the above on the inner one;
- row 16: size and element-count limits.

The replay cache (row 8) is the caller's (replay.py): it runs after this validation succeeds.

Everything here is synchronous CPU work: call it through ``asyncio.to_thread``. Errors carry a
reason code and a detail that name ids and positions only, never assertion contents.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import functools
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from auth.sso.saml import compiled

compiled.install()

# Bindings 3.5.4 HTTP-POST: a base64 form field; 256 KiB covers an Entra response with 150 groups
# several times over.
MAX_RESPONSE_BYTES: Final = 256 * 1024
MAX_ELEMENTS: Final = 3000
DEFAULT_SKEW_SECONDS: Final = 120
MAX_SKEW_SECONDS: Final = 300

NS: Final = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
_RESPONSE: Final = f"{{{NS['samlp']}}}Response"
_ASSERTION: Final = f"{{{NS['saml']}}}Assertion"
_ENCRYPTED_ASSERTION: Final = f"{{{NS['saml']}}}EncryptedAssertion"
_SIGNATURE: Final = f"{{{NS['ds']}}}Signature"
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"

_SHA256_SIGNATURES: Final = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
_SHA256_DIGESTS: Final = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
_SHA1_SIGNATURE: Final = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
_SHA1_DIGEST: Final = "http://www.w3.org/2000/09/xmldsig#sha1"
_EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_TRANSFORMS: Final = frozenset({"http://www.w3.org/2000/09/xmldsig#enveloped-signature", _EXC_C14N})
_ENCRYPTION: Final = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        "http://www.w3.org/2009/xmlenc11#aes128-gcm",
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    }
)
_DOCTYPE: Final = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PEM_BODY: Final = re.compile(r"-----BEGIN CERTIFICATE-----|-----END CERTIFICATE-----|\s+")


class SamlError(Exception):
    """A refused response: ``reason`` is a stable code for the login trace; ``detail`` names
    ids, positions and times only; ``clock_delta`` (seconds) for time failures."""

    def __init__(self, reason: str, detail: str, *, clock_delta: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.clock_delta = clock_delta


@dataclass(frozen=True)
class Expectations:
    """What a response must match, from the connection and the browser's login transaction.

    ``request_id`` is the AuthnRequest id of this browser's transaction, or None for a POST
    without one (accepted only when ``allow_unsolicited``: IdP-initiated login is on)."""

    idp_entity_id: str
    sp_entity_id: str
    acs_url: str
    certificates: tuple[str, ...]
    request_id: str | None = None
    allow_unsolicited: bool = False
    allow_sha1: bool = False
    want_response_signed: bool = False
    skew_seconds: int = DEFAULT_SKEW_SECONDS
    sp_private_key: str = field(default="", repr=False)
    sp_certificate: str = ""


@dataclass(frozen=True)
class ValidAssertion:
    """The signed facts of an accepted response (never logged: they identify a person)."""

    response_id: str
    assertion_id: str
    name_id: str = field(repr=False)
    name_id_format: str
    attributes: dict[str, list[str]] = field(repr=False)
    session_index: str
    expire_at: float
    clock_delta: float
    in_response_to: str
    # The NameID's qualifiers, which a LogoutRequest repeats (saml-core 2.2.2, 3.7.1).
    name_qualifier: str = ""
    sp_name_qualifier: str = ""


def certificate_der(pem_or_base64: str) -> bytes:
    """A certificate's DER bytes from PEM or bare base64 (as metadata and KeyInfo carry it)."""
    try:
        return base64.b64decode(_PEM_BODY.sub("", pem_or_base64), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _decode(saml_response: str) -> bytes:
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise SamlError("response_too_large", "the SAMLResponse exceeds the size limit")
    try:
        raw = base64.b64decode(re.sub(r"\s+", "", saml_response), validate=True)
    except (binascii.Error, ValueError):
        raise SamlError("response_malformed", "the SAMLResponse is not base64") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise SamlError("response_too_large", "the SAMLResponse exceeds the size limit")
    if _DOCTYPE.search(raw):
        raise SamlError("dtd_forbidden", "the response declares a DTD or an entity")
    return raw


def _parse(raw: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError:
        raise SamlError("response_malformed", "the response is not well-formed XML") from None
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise SamlError("dtd_forbidden", "the response declares a DTD")
    return root


def _check_nodes(root: etree._Element) -> None:
    for count, node in enumerate(root.iter(), start=1):
        if count > MAX_ELEMENTS:
            raise SamlError("response_too_large", "the response has too many elements")
        if isinstance(node, etree._Comment):
            raise SamlError("xml_comment", "the response contains an XML comment")
        if isinstance(node, etree._ProcessingInstruction):
            raise SamlError(
                "xml_processing_instruction", "the response has a processing instruction"
            )
        if isinstance(node, etree._Entity):
            raise SamlError("dtd_forbidden", "the response references an entity")


def _one(root: etree._Element, tag: str) -> list[etree._Element]:
    return list(root.iter(tag))


def _check_signature(
    signature: etree._Element, parent: etree._Element, expect: Expectations
) -> None:
    """One enveloped signature of ``parent``: allow-listed algorithms, one Reference to the
    parent's ID, no KeyInfo certificate that is not pinned (rows 1, 10, 11)."""
    parent_id = parent.get("ID") or ""
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    if len(references) != 1 or not parent_id:
        raise SamlError("signature_reference_invalid", "a signature must reference its parent")
    if references[0].get("URI") != f"#{parent_id}":
        raise SamlError("signature_reference_invalid", "a signature references another element")
    c14n = signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS)
    if c14n is None or c14n.get("Algorithm") != _EXC_C14N:
        raise SamlError("algorithm_refused", "canonicalization must be exclusive c14n")
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", NS)
    algorithm = method.get("Algorithm", "") if method is not None else ""
    if algorithm not in _SHA256_SIGNATURES and not (
        expect.allow_sha1 and algorithm == _SHA1_SIGNATURE
    ):
        raise SamlError("algorithm_refused", f"signature algorithm refused: {algorithm[:80]}")
    digest = references[0].find("ds:DigestMethod", NS)
    digest_algorithm = digest.get("Algorithm", "") if digest is not None else ""
    if digest_algorithm not in _SHA256_DIGESTS and not (
        expect.allow_sha1 and digest_algorithm == _SHA1_DIGEST
    ):
        raise SamlError("algorithm_refused", f"digest algorithm refused: {digest_algorithm[:80]}")
    for transform in references[0].findall("ds:Transforms/ds:Transform", NS):
        if transform.get("Algorithm") not in _TRANSFORMS or len(transform):
            raise SamlError("algorithm_refused", "a signature transform is not allowed")
    pinned = {certificate_der(cert) for cert in expect.certificates}
    for carried in signature.iterfind(".//ds:X509Certificate", NS):
        der = certificate_der(carried.text or "")
        if not any(hmac.compare_digest(der, pin) for pin in pinned):
            raise SamlError(
                "certificate_not_pinned", "the signature carries a certificate that is not pinned"
            )


def _check_structure(root: etree._Element, expect: Expectations) -> tuple[etree._Element, bool]:
    """Rows 1 and 3: the one Assertion, where it belongs, signed; every signature where it
    belongs. Returns the Assertion, and whether the Response itself is signed."""
    if root.tag != _RESPONSE:
        raise SamlError("response_malformed", "the document is not a samlp:Response")
    assertions = _one(root, _ASSERTION)
    if len(assertions) != 1 or _one(root, _ENCRYPTED_ASSERTION):
        raise SamlError(
            "assertion_count", f"exactly one assertion is required, found {len(assertions)}"
        )
    assertion = assertions[0]
    if assertion.getparent() is not root:
        raise SamlError("assertion_misplaced", "the assertion is not a child of the response")
    ids = [node.get("ID") for node in root.iter() if isinstance(node.tag, str) and node.get("ID")]
    if len(ids) != len(set(ids)):
        raise SamlError("duplicate_id", "two elements share an ID")
    signatures = _one(root, _SIGNATURE)
    assertion_signed = False
    response_signed = False
    for signature in signatures:
        parent = signature.getparent()
        if parent is assertion:
            assertion_signed = True
        elif parent is root:
            response_signed = True
        else:
            raise SamlError(
                "signature_misplaced", "a signature is neither the response's nor the assertion's"
            )
        assert parent is not None
        _check_signature(signature, parent, expect)
    if len(signatures) != int(assertion_signed) + int(response_signed) or (len(signatures) > 2):
        raise SamlError("signature_misplaced", "more than one signature on an element")
    if not assertion_signed:
        raise SamlError("assertion_unsigned", "the assertion is not signed")
    if expect.want_response_signed and not response_signed:
        raise SamlError("response_unsigned", "the connection requires a signed response")
    return assertion, response_signed


def _check_encryption(root: etree._Element) -> None:
    for method in root.iter(f"{{{NS['xenc']}}}EncryptionMethod"):
        if method.get("Algorithm") not in _ENCRYPTION:
            raise SamlError("algorithm_refused", "an encryption algorithm is not allowed")


def _parse_time(value: str, what: str) -> float:
    text = value.strip()
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", text)
    if not match:
        raise SamlError("time_malformed", f"{what} is not an xs:dateTime in UTC")
    try:
        base = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise SamlError("time_malformed", f"{what} is not a valid time") from None
    fraction = float(match.group(2)) if match.group(2) else 0.0
    return calendar.timegm(base.timetuple()) + fraction


def _equal(expected: str, received: str | None) -> bool:
    return received is not None and hmac.compare_digest(expected.encode(), received.encode())


def _signed_in_response_to(
    root: etree._Element, bearer: list[etree._Element], response_signed: bool
) -> str:
    """Row 6: the request id this response answers, from the signed part only; "" when the
    signed part answers no request (unsolicited).

    The assertion's bearer confirmations are signed (the assertion always is); the Response's
    own InResponseTo is signed only with the Response. Wherever both say something, they must
    agree: a Response that names one request around an assertion answering another (or none,
    while the Response is unsigned) is either a wrapping attack or a broken IdP."""
    in_confirmations = {
        data.get("InResponseTo")
        for confirmation in bearer
        if (data := confirmation.find("saml:SubjectConfirmationData", NS)) is not None
        and data.get("InResponseTo") is not None
    }
    if len(in_confirmations) > 1:
        raise SamlError("in_response_to_mismatch", "the confirmations answer different requests")
    confirmed = in_confirmations.pop() if in_confirmations else None
    envelope = root.get("InResponseTo")
    if envelope is not None and confirmed is not None and not _equal(envelope, confirmed):
        raise SamlError("in_response_to_mismatch", "the response and assertion disagree")
    if response_signed and envelope is not None:
        return envelope
    return confirmed or ""


def _check_semantics(
    root: etree._Element, assertion: etree._Element, expect: Expectations, now: float,
    response_signed: bool,
) -> tuple[float, float, str]:  # fmt: skip
    """Rows 4-7 and 12 on the one assertion: returns (expire_at, clock_delta, in_response_to),
    the last "" for an unsolicited response."""
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    if status is None or status.get("Value") != SUCCESS:
        raise SamlError("idp_status", "the IdP answered with a non-success status")
    destination = root.get("Destination")
    if destination is None:
        raise SamlError("destination_missing", "the response has no Destination")
    if not _equal(expect.acs_url, destination):
        raise SamlError("destination_mismatch", "the Destination is not this connection's ACS URL")
    response_issuer = root.find("saml:Issuer", NS)
    if response_issuer is not None and not _equal(
        expect.idp_entity_id, (response_issuer.text or "").strip()
    ):
        raise SamlError("issuer_mismatch", "the response comes from another issuer")
    assertion_issuer = assertion.find("saml:Issuer", NS)
    if assertion_issuer is None or not _equal(
        expect.idp_entity_id, (assertion_issuer.text or "").strip()
    ):
        raise SamlError("issuer_mismatch", "the assertion comes from another issuer")
    # Rows 5 and 7: a bearer SubjectConfirmation, its Recipient exact, its window current.
    skew = min(max(expect.skew_seconds, 0), MAX_SKEW_SECONDS)
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    bearer = [c for c in confirmations if c.get("Method") == BEARER]
    if not bearer:
        raise SamlError("subject_confirmation_missing", "no bearer SubjectConfirmation")
    # Row 6: which request this answers, by what is signed.
    in_response_to = _signed_in_response_to(root, bearer, response_signed)
    if not in_response_to:
        if not expect.allow_unsolicited:
            raise SamlError("unsolicited_refused", "IdP-initiated login is off for this connection")
    elif expect.request_id is None:
        raise SamlError("in_response_to_mismatch", "no request of this browser is pending")
    elif not _equal(expect.request_id, in_response_to):
        raise SamlError("in_response_to_mismatch", "the response answers another request")
    expire_at = 0.0
    clock_delta = 0.0
    for confirmation in bearer:
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if data is None or data.get("Recipient") is None:
            raise SamlError("recipient_missing", "a bearer confirmation has no Recipient")
        if not _equal(expect.acs_url, data.get("Recipient")):
            raise SamlError("recipient_mismatch", "the Recipient is not this connection's ACS URL")
        if data.get("NotBefore") is not None:
            raise SamlError("subject_confirmation_invalid", "a bearer confirmation has NotBefore")
        raw_end = data.get("NotOnOrAfter")
        if raw_end is None:
            raise SamlError("time_missing", "a bearer confirmation has no NotOnOrAfter")
        end = _parse_time(raw_end, "SubjectConfirmationData NotOnOrAfter")
        if now >= end + skew:
            raise SamlError(
                "expired", "the confirmation has expired", clock_delta=round(now - end, 3)
            )
        expire_at = max(expire_at, end)
    conditions = assertion.find("saml:Conditions", NS)
    if conditions is None:
        raise SamlError("conditions_missing", "the assertion has no Conditions")
    raw_start = conditions.get("NotBefore")
    if raw_start is not None:
        start = _parse_time(raw_start, "Conditions NotBefore")
        if now + skew < start:
            raise SamlError(
                "not_yet_valid", "the assertion is not valid yet", clock_delta=round(now - start, 3)
            )
        clock_delta = round(now - start, 3)
    raw_end = conditions.get("NotOnOrAfter")
    if raw_end is not None:
        end = _parse_time(raw_end, "Conditions NotOnOrAfter")
        if now >= end + skew:
            raise SamlError("expired", "the assertion has expired", clock_delta=round(now - end, 3))
        expire_at = max(expire_at, end)
    audiences = [
        (node.text or "").strip()
        for node in conditions.findall("saml:AudienceRestriction/saml:Audience", NS)
    ]
    if not audiences or not any(_equal(expect.sp_entity_id, a) for a in audiences):
        raise SamlError("audience_mismatch", "the assertion is meant for another audience")
    return expire_at + skew, clock_delta, in_response_to


def _settings(expect: Expectations) -> OneLogin_Saml2_Settings:
    """python3-saml's settings for ``expect``'s connection, built once per connection (again
    when it changes), not per response: building them checks and reformats every certificate.
    Only the connection's fields shape them; the login's own are cleared so that all logins of
    a connection share one. The library only reads settings once built: threads share them."""
    return _connection_settings(replace(expect, request_id=None, allow_unsolicited=False))


@functools.lru_cache(maxsize=256)
def _connection_settings(connection: Expectations) -> OneLogin_Saml2_Settings:
    return OneLogin_Saml2_Settings(_library_settings(connection), sp_validation_only=True)


def _library_settings(expect: Expectations) -> dict[str, Any]:
    """python3-saml with every insecure default overridden (§2 'The wrapper therefore must')."""
    certs = [_PEM_BODY.sub("", cert) for cert in expect.certificates]
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": expect.sp_entity_id,
            "assertionConsumerService": {
                "url": expect.acs_url,
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
            "x509cert": expect.sp_certificate,
            "privateKey": expect.sp_private_key,
        },
        "idp": {
            "entityId": expect.idp_entity_id,
            "singleSignOnService": {
                "url": "https://idp.invalid/sso",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "x509certMulti": {"signing": certs},
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": expect.want_response_signed,
            "wantNameId": True,
            "wantAssertionsEncrypted": False,
            "wantNameIdEncrypted": False,
            "rejectDeprecatedAlgorithm": not expect.allow_sha1,
            "wantAttributeStatement": False,
            "allowRepeatAttributeName": True,
            "requestedAuthnContext": False,
        },
    }


def _request_data(acs_url: str) -> dict[str, Any]:
    parts = urlsplit(acs_url)
    https = parts.scheme == "https"
    return {
        "https": "on" if https else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": {},
        "post_data": {},
    }


def _attributes(values: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, listed in values.items():
        items: Iterable[Any] = listed if isinstance(listed, list) else [listed]
        out[str(name)] = [str(v) for v in items if v is not None]
    return out


def validate_response(saml_response: str, expect: Expectations, now: float) -> ValidAssertion:
    """Validates an HTTP-POST SAMLResponse (base64) against ``expect`` at ``now`` (epoch
    seconds). Raises SamlError with the first refused checklist row."""
    if not expect.certificates:
        raise SamlError("no_certificate", "the connection has no pinned IdP certificate")
    raw = _decode(saml_response)
    root = _parse(raw)
    _check_nodes(root)
    _check_encryption(root)
    try:
        library = OneLogin_Saml2_Response(_settings(expect), base64.b64encode(raw).decode())
    except SamlError:
        raise
    except Exception as error:  # DTDForbidden, decryption and parse errors: one uniform refusal
        raise SamlError(
            "response_invalid", f"python3-saml refused: {type(error).__name__}"
        ) from None
    document = root
    if library.encrypted:
        decrypted = library.decrypted_document
        document = decrypted if isinstance(decrypted, etree._Element) else root
        _check_nodes(document)
    assertion, response_signed = _check_structure(document, expect)
    expire_at, clock_delta, in_response_to = _check_semantics(
        document, assertion, expect, now, response_signed
    )
    try:
        valid = library.is_valid(
            _request_data(expect.acs_url), expect.request_id if in_response_to else None
        )
    except Exception as error:
        raise SamlError(
            "response_invalid", f"python3-saml refused: {type(error).__name__}"
        ) from None
    if not valid:
        reason = (
            "signature_invalid" if "ignature" in (library.get_error() or "") else "response_invalid"
        )
        raise SamlError(reason, f"python3-saml refused: {_library_error(library)}")
    name_id = library.get_nameid() or ""
    if not name_id.strip():
        raise SamlError("name_id_missing", "the assertion has no NameID")
    return ValidAssertion(
        response_id=library.get_id() or "",
        assertion_id=library.get_assertion_id() or "",
        name_id=name_id,
        name_id_format=library.get_nameid_format() or "",
        attributes=_attributes(library.get_attributes()),
        session_index=library.get_session_index() or "",
        expire_at=expire_at,
        clock_delta=clock_delta,
        in_response_to=in_response_to,
        name_qualifier=library.get_nameid_nq() or "",
        sp_name_qualifier=library.get_nameid_spnq() or "",
    )


def _library_error(library: OneLogin_Saml2_Response) -> str:
    """python3-saml's error text may quote URLs from the response; keep its first words only."""
    text = library.get_error() or "invalid"
    return re.sub(r"\s+", " ", text.split(" at ")[0].split(" instead ")[0])[:120]
