"""Hostile SAMLResponse values at the ACS (issue "Under load, faults and hostile input it keeps
working and loses nothing"; docs/sso-security.md §2 rows 9 and 16): whatever a browser
posts as SAMLResponse (arbitrary text, base64 of arbitrary bytes, XML-ish documents made of SAML
element names, DTDs and entities, other encodings, deep nesting, huge documents), the strict
validator refuses it with a SamlError carrying a stable reason: never another exception (which
the flow would turn into a 500), never an accepted assertion.

Hypothesis runs derandomised without an example database: CI sees the same inputs every run.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.sso.saml.validator import (
    BEARER,
    MAX_ELEMENTS,
    MAX_RESPONSE_BYTES,
    NS,
    SUCCESS,
    Expectations,
    SamlError,
    validate_response,
)
from tests.idps.saml.responses import KeyPair

IDP: Final = "https://idp.acme.test/saml"
SP: Final = "https://id.example.test/sso/saml/8d1c0e1e-5c4e-4d7e-9a57-6a8d4e0f0c11/metadata"
ACS: Final = "https://id.example.test/sso/saml/8d1c0e1e-5c4e-4d7e-9a57-6a8d4e0f0c11/acs"
REQUEST_ID: Final = "_a7f3c1d2e4b5968778695a4b3c2d1e0f"
EXPECT: Final = Expectations(
    idp_entity_id=IDP,
    sp_entity_id=SP,
    acs_url=ACS,
    certificates=(KeyPair.generate("idp.acme.test").cert_pem,),
    request_id=REQUEST_ID,
)
UNSOLICITED: Final = Expectations(
    idp_entity_id=IDP,
    sp_entity_id=SP,
    acs_url=ACS,
    certificates=EXPECT.certificates,
    allow_unsolicited=True,
)
NOW: Final = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
LATER: Final = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
_EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
REASON = re.compile(r"^[a-z][a-z0-9_]*$")


def refusal(saml_response: str, expect: Expectations = EXPECT) -> SamlError:
    """The SamlError raised for ``saml_response``; any other outcome fails the test."""
    with pytest.raises(SamlError) as refused:
        validate_response(saml_response, expect, time.time())
    error = refused.value
    assert REASON.match(error.reason), error.reason
    assert error.detail
    return error


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------------------------
# Arbitrary input


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_saml_response_is_refused_with_a_reason(text: str) -> None:
    """Bindings 3.5.4: SAMLResponse is base64; anything else is response_malformed or another
    stable reason, never an exception of python3-saml, lxml or base64."""
    refusal(text)


@SETTINGS
@given(st.binary(max_size=600))
def test_base64_of_any_bytes_is_refused_with_a_reason(raw: bytes) -> None:
    """sso-security.md §2 row 16: undecodable or non-XML bytes are refused before any check."""
    for expect in (EXPECT, UNSOLICITED):
        refusal(b64(raw), expect)


TAGS = st.sampled_from(
    [
        f"{{{NS['samlp']}}}Response",
        f"{{{NS['samlp']}}}Status",
        f"{{{NS['samlp']}}}StatusCode",
        f"{{{NS['saml']}}}Assertion",
        f"{{{NS['saml']}}}EncryptedAssertion",
        f"{{{NS['saml']}}}Issuer",
        f"{{{NS['saml']}}}Subject",
        f"{{{NS['saml']}}}NameID",
        f"{{{NS['saml']}}}SubjectConfirmation",
        f"{{{NS['saml']}}}SubjectConfirmationData",
        f"{{{NS['saml']}}}Conditions",
        f"{{{NS['saml']}}}AudienceRestriction",
        f"{{{NS['saml']}}}Audience",
        f"{{{NS['saml']}}}AttributeStatement",
        f"{{{NS['saml']}}}Attribute",
        f"{{{NS['saml']}}}AttributeValue",
        f"{{{NS['ds']}}}Signature",
        f"{{{NS['ds']}}}SignedInfo",
        f"{{{NS['ds']}}}Reference",
        f"{{{NS['ds']}}}X509Certificate",
        "x",
    ]
)
ATTRIBUTE_NAMES = st.sampled_from(
    [
        "ID",
        "Version",
        "IssueInstant",
        "Destination",
        "InResponseTo",
        "Recipient",
        "Method",
        "NotBefore",
        "NotOnOrAfter",
        "Value",
        "URI",
        "Algorithm",
        "Name",
    ]
)
ATTRIBUTE_VALUES = st.sampled_from(
    [
        ACS,
        REQUEST_ID,
        IDP,
        SP,
        "urn:oasis:names:tc:SAML:2.0:cm:bearer",
        "urn:oasis:names:tc:SAML:2.0:status:Success",
        "2099-01-01T00:00:00Z",
        "2000-01-01T00:00:00.123Z",
        "٢٠٢٤-01-01T00:00:00Z",
        "9999-99-99T99:99:99Z",
        "#_1",
        "_1",
        "",
    ]
) | st.text(max_size=12)


@st.composite
def saml_like(draw: st.DrawFn, depth: int = 0) -> str:
    """An XML element with SAML names, attributes and text, rendered with its namespaces."""
    tag = draw(TAGS)
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    prefix = next((p for p, uri in NS.items() if uri == namespace), "")
    name = f"{prefix}:{local}" if prefix else local
    attributes = draw(st.dictionaries(ATTRIBUTE_NAMES, ATTRIBUTE_VALUES, max_size=4))
    rendered = "".join(f' {key}="{_escape(value)}"' for key, value in attributes.items())
    children = draw(st.lists(saml_like(depth + 1), max_size=3)) if depth < 3 else []
    text = _escape(draw(st.text(max_size=10)))
    return f"<{name}{rendered}>{text}{''.join(children)}</{name}>"


def _escape(text: str) -> str:
    printable = "".join(c for c in text if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)
    return printable.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


DECLARATIONS = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())


@settings(SETTINGS, max_examples=60)
@given(st.lists(saml_like(), min_size=1, max_size=3), st.booleans())
def test_saml_shaped_documents_without_a_valid_signature_are_refused(
    children: list[str], unsolicited: bool
) -> None:
    """sso-security.md §2 rows 1-7, 12: a samlp:Response of any shape (assertions, signatures
    and confirmations in any number and place, times and ids of any value) is refused with the
    row's reason; nothing unsigned is ever accepted."""
    document = f'<samlp:Response{DECLARATIONS} ID="_r">{"".join(children)}</samlp:Response>'
    refusal(b64(document.encode()), UNSOLICITED if unsolicited else EXPECT)


def _value(draw: st.DrawFn, usual: str) -> str:
    """Mostly the value a valid response carries, one time in eight any other."""
    perturbed = draw(st.integers(0, 7)) == 0
    return _escape(draw(ATTRIBUTE_VALUES)) if perturbed else usual


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A response shaped like a real one (status, issuer, one assertion with subject,
    confirmation, conditions, audience, an unverifiable signature), each value perturbed, so the
    semantic checks (rows 4-7, 12) and python3-saml's signature check see it."""

    def v(usual: str) -> str:
        return _value(draw, usual)

    signature = (
        f'<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{v(_EXC_C14N)}"/>'
        f'<ds:SignatureMethod Algorithm="{v(_RSA_SHA256)}"/><ds:Reference URI="{v("#_a")}">'
        f'<ds:DigestMethod Algorithm="{v(_SHA256)}"/><ds:DigestValue>AAAA</ds:DigestValue>'
        "</ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue>"
        "</ds:Signature>"
    )
    assertion = (
        f'<saml:Assertion ID="{v("_a")}" Version="2.0" IssueInstant="{v(NOW)}">'
        f"<saml:Issuer>{v(IDP)}</saml:Issuer>{signature if draw(st.integers(0, 7)) else ''}"
        f"<saml:Subject><saml:NameID>{v('ada@example.com')}</saml:NameID>"
        f'<saml:SubjectConfirmation Method="{v(BEARER)}"><saml:SubjectConfirmationData '
        f'Recipient="{v(ACS)}" InResponseTo="{v(REQUEST_ID)}" NotOnOrAfter="{v(LATER)}"/>'
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{v(NOW)}" NotOnOrAfter="{v(LATER)}">'
        f"<saml:AudienceRestriction><saml:Audience>{v(SP)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        "</saml:Assertion>"
    )
    return (
        f'<samlp:Response{DECLARATIONS} ID="{v("_r")}" Version="2.0" IssueInstant="{v(NOW)}" '
        f'Destination="{v(ACS)}" InResponseTo="{v(REQUEST_ID)}"><saml:Issuer>{v(IDP)}'
        f'</saml:Issuer><samlp:Status><samlp:StatusCode Value="{v(SUCCESS)}"/></samlp:Status>'
        f"{assertion}</samlp:Response>"
    )


@settings(SETTINGS, max_examples=80)
@given(near_valid())
def test_near_valid_responses_without_a_valid_signature_are_refused(document: str) -> None:
    """sso-security.md §2 rows 1, 4-7, 10-12: perturbed values of a real response's shape are
    refused with the failing row's reason, or by the signature check: never accepted."""
    refusal(b64(document.encode()))


# ---------------------------------------------------------------------------------------------
# Named hostile documents

RESPONSE = (
    f'<samlp:Response xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" ID="_r" '
    f'Version="2.0" Destination="{ACS}" InResponseTo="{REQUEST_ID}">'
    f"<saml:Issuer>{IDP}</saml:Issuer></samlp:Response>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i else "&lol;" * 10}">' for i in range(9))
    + f']><samlp:Response xmlns:samlp="{NS["samlp"]}">&lol8;</samlp:Response>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    f'<samlp:Response xmlns:samlp="{NS["samlp"]}">&x;</samlp:Response>'
)
DEEP = 10_000
HOSTILE: dict[str, tuple[str, tuple[str, ...]]] = {
    "billion laughs": (b64(LAUGHS.encode()), ("dtd_forbidden",)),
    "external entity (XXE)": (b64(XXE.encode()), ("dtd_forbidden",)),
    "a DTD in UTF-16": (
        b64(LAUGHS.replace('"1.0"', '"1.0" encoding="UTF-16"', 1).encode("utf-16")),
        ("dtd_forbidden", "response_malformed"),
    ),
    "a DTD in UTF-32": (b64(XXE.encode("utf-32")), ("dtd_forbidden", "response_malformed")),
    "a UTF-16 response": (b64(RESPONSE.encode("utf-16")), ("assertion_count",)),
    "latin-1 bytes declared UTF-8": (
        b64(RESPONSE.replace(IDP, "Idé").encode("latin-1")),
        ("response_malformed",),
    ),
    "a wrongly declared encoding": (
        b64(b'<?xml version="1.0" encoding="x-no-such-charset"?>' + RESPONSE.encode()),
        ("response_malformed",),
    ),
    "invalid UTF-8": (
        b64(b"<samlp:Response>\xff\xfe\xc3\x28</samlp:Response>"),
        ("response_malformed",),
    ),
    "10,000 nested elements": (
        b64(("<a>" * DEEP + "</a>" * DEEP).encode()),
        ("response_malformed", "response_too_large"),
    ),
    "too many elements": (
        b64(
            RESPONSE.replace(
                "</samlp:Response>", "<x/>" * (MAX_ELEMENTS + 1) + "</samlp:Response>"
            ).encode()
        ),
        ("response_too_large",),
    ),
    "larger than the limit": (b64(b" " * (MAX_RESPONSE_BYTES + 1)), ("response_too_large",)),
    "a megabyte of base64": ("A" * (1024 * 1024), ("response_too_large",)),
    "truncated": (b64(RESPONSE.encode()[: len(RESPONSE) // 2]), ("response_malformed",)),
    "a comment": (
        b64(RESPONSE.replace("</saml:Issuer>", "<!-- x --></saml:Issuer>").encode()),
        ("xml_comment",),
    ),
    "a processing instruction": (
        b64(RESPONSE.replace("</saml:Issuer>", "<?evil x?></saml:Issuer>").encode()),
        ("xml_processing_instruction",),
    ),
    "an XInclude": (
        b64(
            RESPONSE.replace(
                "</samlp:Response>",
                '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'
                "</samlp:Response>",
            ).encode()
        ),
        ("assertion_count",),
    ),
    "url-safe base64": (
        base64.urlsafe_b64encode(b"\xfb\xff" * 50).decode(),
        ("response_malformed",),
    ),
    "non-ASCII base64": ("PHNhbWxwOl" + "é" * 10, ("response_malformed",)),
    "a NUL character": ("PHNh\x00bWxw", ("response_malformed",)),
    "not XML": (b64(b"%PDF-1.7 \x00\x01"), ("response_malformed",)),
}


@pytest.mark.parametrize(("saml_response", "reasons"), HOSTILE.values(), ids=list(HOSTILE.keys()))
def test_hostile_documents_are_refused_with_their_reason(
    saml_response: str, reasons: tuple[str, ...]
) -> None:
    """sso-security.md §2 row 9 (no DTD, no entities: refused before any parser expands them),
    row 16 (size and element limits), row 2 (no comments or processing instructions), and
    encodings other than the one declared: each refused with its reason."""
    assert refusal(saml_response).reason in reasons


def test_a_refusal_never_quotes_the_document() -> None:
    """sso-security.md §2: errors name ids and positions only, never assertion contents."""
    secret = "ada.lovelace@example.com"
    document = RESPONSE.replace(f"<saml:Issuer>{IDP}", f"<saml:Issuer>{secret}")
    error = refusal(b64(document.encode()))
    assert secret not in error.detail
    assert secret not in str(error)
