"""SAML Single Logout messages (saml-core 3.7, saml-profiles 4.4, saml-bindings 3.4 and 3.5):
what we send, and the strict reading of what the IdP sends to our SingleLogoutService.

Outbound, over HTTP-Redirect with the query signed by the connection's SP key (bindings
3.4.4.1): our ``LogoutRequest`` naming the session's NameID (format, qualifiers) and
SessionIndex, and our ``LogoutResponse`` to an IdP-initiated request.

Inbound, over HTTP-Redirect (query signature) or HTTP-POST (enveloped XML signature), with the
login response's strictness (sso-security.md §2): a signature is required and made by a pinned
certificate with an allow-listed algorithm; no DTD, comment or processing instruction; size
limits; ``Destination`` present and exactly our SLO URL; ``Issuer`` exactly the IdP's entity id;
``IssueInstant`` recent and ``NotOnOrAfter`` not passed (the connection's skew). The replay cache
(the message ID, first use wins across replicas) is the caller's.

Synchronous CPU work: call ``read_logout_message`` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import quote_plus, unquote_plus
from xml.sax.saxutils import quoteattr

import xmlsec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from auth.sso.saml.validator import (
    _DOCTYPE,
    _SIGNATURE,
    MAX_RESPONSE_BYTES,
    NS,
    Expectations,
    SamlError,
    _check_nodes,
    _check_signature,
    _decode,
    _parse,
    _parse_time,
    certificate_der,
)

_LOGOUT_REQUEST: Final = f"{{{NS['samlp']}}}LogoutRequest"
_LOGOUT_RESPONSE: Final = f"{{{NS['samlp']}}}LogoutResponse"
SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
PARTIAL_LOGOUT: Final = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_RSA_SHA1: Final = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
_QUERY_ALGORITHMS: Final[dict[str, hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512(),
}
# A LogoutRequest is acted on at once; one issued longer ago than this (plus the skew) is old.
MAX_AGE_SECONDS: Final = 600
BINDING_REDIRECT: Final = "redirect"
BINDING_POST: Final = "post"


def slo_path(connection_id: object) -> str:
    return f"/sso/saml/{connection_id}/slo"


def slo_url_of(acs_url: str) -> str:
    """Our SingleLogoutService URL: the ACS URL's sibling (one base for both)."""
    return acs_url.rsplit("/", 1)[0] + "/slo"


@dataclass(frozen=True)
class LogoutMessage:
    """What arrives at our SLO URL: a GET's raw query (HTTP-Redirect) or a POST's fields."""

    binding: str
    raw_query: str = field(default="", repr=False)
    saml_request: str = field(default="", repr=False)
    saml_response: str = field(default="", repr=False)
    relay_state: str = field(default="", repr=False)
    # The SAML binding cookie: a LogoutResponse must come back to the browser that asked.
    browser_binding: str = field(default="", repr=False)


@dataclass(frozen=True)
class LogoutExpectations:
    idp_entity_id: str
    certificates: tuple[str, ...]
    # Our SLO URL: every message's Destination.
    slo_url: str
    allow_sha1: bool = False
    skew_seconds: int = 120


@dataclass(frozen=True)
class InboundLogout:
    """A verified LogoutRequest (``is_request``) or LogoutResponse."""

    is_request: bool
    id: str
    relay_state: str = field(repr=False)
    expire_at: float
    # LogoutRequest
    name_id: str = field(default="", repr=False)
    session_indexes: tuple[str, ...] = ()
    # LogoutResponse
    in_response_to: str = ""
    status: str = ""
    partial: bool = False


# -- outbound -----------------------------------------------------------------------------------


def _instant(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class NameId:
    value: str = field(repr=False)
    format: str = ""
    name_qualifier: str = ""
    sp_name_qualifier: str = ""


def logout_request_xml(
    request_id: str, issue_instant: datetime, not_on_or_after: datetime, *, sp_entity_id: str,
    destination: str, name_id: NameId, session_index: str,
) -> str:  # fmt: skip
    """saml-core 3.7.1: the NameID exactly as the assertion carried it, and its SessionIndex."""
    attributes = "".join(
        f" {name}={quoteattr(value)}"
        for name, value in (
            ("Format", name_id.format),
            ("NameQualifier", name_id.name_qualifier),
            ("SPNameQualifier", name_id.sp_name_qualifier),
        )
        if value
    )
    index = ""
    if session_index:
        index = f"<samlp:SessionIndex>{_escape(session_index)}</samlp:SessionIndex>"
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
        f' ID={quoteattr(request_id)} Version="2.0" IssueInstant="{_instant(issue_instant)}"'
        f' NotOnOrAfter="{_instant(not_on_or_after)}" Destination={quoteattr(destination)}>'
        f"<saml:Issuer>{_escape(sp_entity_id)}</saml:Issuer>"
        f"<saml:NameID{attributes}>{_escape(name_id.value)}</saml:NameID>{index}"
        "</samlp:LogoutRequest>"
    )


def logout_response_xml(
    response_id: str, issue_instant: datetime, *, in_response_to: str, sp_entity_id: str,
    destination: str, status: str = SUCCESS,
) -> str:  # fmt: skip
    """saml-core 3.7.2."""
    return (
        '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
        f' ID={quoteattr(response_id)} Version="2.0" IssueInstant="{_instant(issue_instant)}"'
        f" Destination={quoteattr(destination)} InResponseTo={quoteattr(in_response_to)}>"
        f"<saml:Issuer>{_escape(sp_entity_id)}</saml:Issuer>"
        f"<samlp:Status><samlp:StatusCode Value={quoteattr(status)}/></samlp:Status>"
        "</samlp:LogoutResponse>"
    )


def _deflate(xml: str) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml.encode()) + compressor.flush()).decode()


def signed_redirect_url(
    endpoint: str, parameter: str, xml: str, relay_state: str, private_key_pem: str
) -> str:
    """Bindings 3.4.4.1: DEFLATE, base64, URL-encode; the query signed (RSA-SHA256) over
    ``SAMLRequest|SAMLResponse=…&RelayState=…&SigAlg=…`` exactly as sent."""
    query = f"{parameter}={quote_plus(_deflate(xml))}"
    if relay_state:
        query += f"&RelayState={quote_plus(relay_state)}"
    query += f"&SigAlg={quote_plus(RSA_SHA256)}"
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
    query += f"&Signature={quote_plus(base64.b64encode(signature).decode())}"
    return endpoint + ("&" if "?" in endpoint else "?") + query


# -- inbound ------------------------------------------------------------------------------------


def _raw_pairs(raw_query: str) -> dict[str, str]:
    """The query's parameters as sent (still URL-encoded): the redirect signature covers them
    byte for byte. A parameter given twice is refused."""
    pairs: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if name in pairs:
            raise SamlError("message_malformed", f"the query repeats {name[:20]}")
        pairs[name] = value
    return pairs


def _inflate(encoded: str) -> bytes:
    try:
        deflated = base64.b64decode(encoded, validate=True)
        inflater = zlib.decompressobj(-15)
        raw = inflater.decompress(deflated, MAX_RESPONSE_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise SamlError("message_malformed", "the message is not DEFLATE in base64") from None
    if len(raw) > MAX_RESPONSE_BYTES or inflater.unconsumed_tail:
        raise SamlError("response_too_large", "the message exceeds the size limit")
    return raw


def _public_keys(certificates: tuple[str, ...]) -> list[rsa.RSAPublicKey]:
    keys = []
    for pem in certificates:
        try:
            key = x509.load_der_x509_certificate(certificate_der(pem)).public_key()
        except ValueError:
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys.append(key)
    return keys


def _verify_query(pairs: dict[str, str], parameter: str, expect: LogoutExpectations) -> None:
    """Bindings 3.4.4.1: the signature over the parameters as received, by a pinned key."""
    if "Signature" not in pairs or "SigAlg" not in pairs:
        raise SamlError("message_unsigned", "the logout message is not signed")
    algorithm = unquote_plus(pairs["SigAlg"])
    hash_type = _QUERY_ALGORITHMS.get(algorithm)
    if hash_type is None and expect.allow_sha1 and algorithm == _RSA_SHA1:
        hash_type = hashes.SHA1()  # noqa: S303 - the connection's explicit legacy opt-in
    if hash_type is None:
        raise SamlError("algorithm_refused", f"signature algorithm refused: {algorithm[:80]}")
    signed = f"{parameter}={pairs[parameter]}"
    if "RelayState" in pairs:
        signed += f"&RelayState={pairs['RelayState']}"
    signed += f"&SigAlg={pairs['SigAlg']}"
    try:
        signature = base64.b64decode(unquote_plus(pairs["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        raise SamlError("signature_invalid", "the signature is not base64") from None
    for key in _public_keys(expect.certificates):
        try:
            key.verify(signature, signed.encode(), padding.PKCS1v15(), hash_type)
            return
        except InvalidSignature:
            continue
    raise SamlError("signature_invalid", "no pinned certificate verifies the signature")


def _verify_xml(root: etree._Element, expect: LogoutExpectations) -> None:
    """One enveloped signature of the root element (allow-listed algorithms, a reference to
    the root's ID, no unpinned KeyInfo certificate), verified with a pinned certificate."""
    signatures = list(root.iter(_SIGNATURE))
    if not signatures:
        raise SamlError("message_unsigned", "the logout message is not signed")
    if len(signatures) != 1 or signatures[0].getparent() is not root:
        raise SamlError("signature_misplaced", "one signature of the message itself is required")
    checks = Expectations(
        idp_entity_id=expect.idp_entity_id, sp_entity_id="", acs_url="",
        certificates=expect.certificates, allow_sha1=expect.allow_sha1,
    )  # fmt: skip
    _check_signature(signatures[0], root, checks)
    xmlsec.tree.add_ids(root, ["ID"])
    for pem in expect.certificates:
        cert = x509.load_der_x509_certificate(certificate_der(pem))
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        try:
            if OneLogin_Saml2_Utils.validate_node_sign(signatures[0], root, cert=cert_pem):
                return
        except Exception:  # noqa: S112 - xmlsec refuses: try the next pinned certificate
            continue
    raise SamlError("signature_invalid", "no pinned certificate verifies the signature")


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _equal(expected: str, received: str | None) -> bool:
    return received is not None and hmac.compare_digest(expected.encode(), received.encode())


def read_logout_message(
    message: LogoutMessage, expect: LogoutExpectations, now: float
) -> InboundLogout:
    """The verified LogoutRequest or LogoutResponse in ``message``; SamlError otherwise."""
    if not expect.certificates:
        raise SamlError("no_certificate", "the connection has no pinned IdP certificate")
    relay_state = message.relay_state
    if message.binding == BINDING_REDIRECT:
        pairs = _raw_pairs(message.raw_query)
        parameters = [name for name in ("SAMLRequest", "SAMLResponse") if name in pairs]
        if len(parameters) != 1:
            raise SamlError("message_missing", "one SAMLRequest or SAMLResponse is required")
        parameter = parameters[0]
        _verify_query(pairs, parameter, expect)
        raw = _inflate(unquote_plus(pairs[parameter]))
        relay_state = unquote_plus(pairs.get("RelayState", ""))
        if _DOCTYPE.search(raw):
            raise SamlError("dtd_forbidden", "the message declares a DTD or an entity")
        root = _parse(raw)
        _check_nodes(root)
        if list(root.iter(_SIGNATURE)):
            raise SamlError("signature_misplaced", "a redirect message carries no XML signature")
    else:
        if bool(message.saml_request) == bool(message.saml_response):
            raise SamlError("message_missing", "one SAMLRequest or SAMLResponse is required")
        parameter = "SAMLRequest" if message.saml_request else "SAMLResponse"
        raw = _decode(message.saml_request or message.saml_response)
        root = _parse(raw)
        _check_nodes(root)
        _verify_xml(root, expect)
    expected_tag = _LOGOUT_REQUEST if parameter == "SAMLRequest" else _LOGOUT_RESPONSE
    if root.tag != expected_tag:
        raise SamlError("message_malformed", "the message is not a LogoutRequest/LogoutResponse")
    return _semantics(root, expect, now, relay_state)


def _semantics(
    root: etree._Element, expect: LogoutExpectations, now: float, relay_state: str
) -> InboundLogout:
    message_id = root.get("ID") or ""
    if not message_id or root.get("Version") != "2.0":
        raise SamlError("message_malformed", "the message has no ID or is not SAML 2.0")
    if not _equal(expect.slo_url, root.get("Destination")):
        raise SamlError("destination_mismatch", "the Destination is not this connection's SLO URL")
    if not _equal(expect.idp_entity_id, _text(root.find("saml:Issuer", NS))):
        raise SamlError("issuer_mismatch", "the Issuer is not the connection's IdP")
    skew = expect.skew_seconds
    issued = _parse_time(root.get("IssueInstant") or "", "IssueInstant")
    if issued > now + skew:
        raise SamlError("not_yet_valid", "the message was issued in the future",
                        clock_delta=round(now - issued, 3))  # fmt: skip
    if now - issued > MAX_AGE_SECONDS + skew:
        raise SamlError("expired", "the message was issued too long ago",
                        clock_delta=round(now - issued, 3))  # fmt: skip
    expire_at = issued + MAX_AGE_SECONDS + 2 * skew
    if root.tag == _LOGOUT_RESPONSE:
        in_response_to = root.get("InResponseTo") or ""
        if not in_response_to:
            raise SamlError("in_response_to_missing", "the LogoutResponse answers no request")
        top = root.find("samlp:Status/samlp:StatusCode", NS)
        status = top.get("Value", "") if top is not None else ""
        second = top.find("samlp:StatusCode", NS) if top is not None else None
        partial = second is not None and second.get("Value") == PARTIAL_LOGOUT
        return InboundLogout(
            is_request=False, id=message_id, relay_state=relay_state, expire_at=expire_at,
            in_response_to=in_response_to, status=status, partial=partial,
        )  # fmt: skip
    raw_end = root.get("NotOnOrAfter")
    if raw_end is not None:
        end = _parse_time(raw_end, "NotOnOrAfter")
        if now >= end + skew:
            raise SamlError("expired", "the LogoutRequest has expired",
                            clock_delta=round(now - end, 3))  # fmt: skip
        expire_at = max(expire_at, end + skew)
    if root.find("saml:EncryptedID", NS) is not None:
        raise SamlError("name_id_encrypted", "an encrypted NameID is not supported")
    name_id = _text(root.find("saml:NameID", NS))
    if not name_id:
        raise SamlError("name_id_missing", "the LogoutRequest names no NameID")
    indexes = tuple(_text(node) for node in root.findall("samlp:SessionIndex", NS) if _text(node))
    return InboundLogout(
        is_request=True, id=message_id, relay_state=relay_state, expire_at=expire_at,
        name_id=name_id, session_indexes=indexes,
    )  # fmt: skip
