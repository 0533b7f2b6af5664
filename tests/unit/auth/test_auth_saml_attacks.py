"""The SAML attack corpus: one test per row of the SP checklist (docs/sso-security.md §2).

Every response starts genuinely signed by the test IdP's key (signxml; SHA-1 through xmlsec) and
is then tampered with; the strict wrapper (auth.sso.saml.validator) must refuse each one with the
checklist row's reason. Refusal happens before any identity is read, so no user can be created or
changed by these responses (the flow only provisions from a ValidAssertion).
"""

from __future__ import annotations

import base64
import copy
import time
from dataclasses import replace

import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from auth.sso.saml.validator import (
    MAX_RESPONSE_BYTES,
    Expectations,
    SamlError,
    ValidAssertion,
    validate_response,
)
from tests.idps.saml.responses import (
    NS,
    SAMLP,
    KeyPair,
    ResponseSpec,
    build,
    encode,
    encrypt_assertion,
    new_id,
    sign,
)

IDP = "https://idp.acme.test/saml"
SP = "https://id.example.test/sso/saml/8d1c0e1e-5c4e-4d7e-9a57-6a8d4e0f0c11/metadata"
ACS = "https://id.example.test/sso/saml/8d1c0e1e-5c4e-4d7e-9a57-6a8d4e0f0c11/acs"
REQUEST_ID = "_a7f3c1d2e4b5968778695a4b3c2d1e0f"
IDP_KEYS = KeyPair.generate("idp.acme.test")
ATTACKER_KEYS = KeyPair.generate("idp.acme.test")
EXPECT = Expectations(
    idp_entity_id=IDP,
    sp_entity_id=SP,
    acs_url=ACS,
    certificates=(IDP_KEYS.cert_pem,),
    request_id=REQUEST_ID,
)


def _spec(**changes: object) -> ResponseSpec:
    spec = ResponseSpec(
        acs_url=ACS,
        audience=SP,
        issuer=IDP,
        request_id=REQUEST_ID,
        name_id="ada@acme.test",
        attributes={"email": ["ada@acme.test"], "groups": ["engineering"]},
    )
    return replace(spec, **changes)  # type: ignore[arg-type]


def _signed(*, assertion: bool = True, whole: bool = False, **changes: object) -> etree._Element:
    return sign(build(_spec(**changes)), IDP_KEYS, assertion=assertion, whole_response=whole)


def _refusal(document: etree._Element | bytes, expect: Expectations = EXPECT) -> SamlError:
    with pytest.raises(SamlError) as refused:
        validate_response(encode(document), expect, time.time())
    return refused.value


def _assertion(document: etree._Element) -> etree._Element:
    node = document.find("saml:Assertion", NS)
    assert node is not None
    return node


def _evil_assertion(signed_assertion: etree._Element) -> etree._Element:
    evil = copy.deepcopy(signed_assertion)
    name_id = evil.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "admin@acme.test"
    signature = evil.find("ds:Signature", NS)
    assert signature is not None
    evil.remove(signature)
    return evil


# -- the baseline: genuine responses pass ---------------------------------------------------------


def test_a_response_with_a_signed_assertion_is_accepted() -> None:
    """Row 3: the signed assertion is the one hard requirement; the facts are read from it."""
    valid = validate_response(encode(_signed()), EXPECT, time.time())
    assert isinstance(valid, ValidAssertion)
    assert valid.name_id == "ada@acme.test"
    assert valid.attributes["groups"] == ["engineering"]
    assert valid.in_response_to == REQUEST_ID


def test_a_response_signed_on_both_levels_is_accepted_and_can_be_required() -> None:
    """Row 3: a signed response is optional, and enforced when the connection asks for it."""
    strict = replace(EXPECT, want_response_signed=True)
    assert validate_response(encode(_signed(whole=True)), strict, time.time()).name_id
    assert _refusal(_signed(), strict).reason == "response_unsigned"


# -- row 1: XML signature wrapping ---------------------------------------------------------------


def test_an_unsigned_assertion_added_before_the_signed_one_is_refused() -> None:
    """Row 1 (XSW: a second assertion as a sibling, read first by a naive SP)."""
    document = _signed()
    original = _assertion(document)
    document.insert(list(document).index(original), _evil_assertion(original))
    assert _refusal(document).reason == "assertion_count"


def test_the_signed_assertion_moved_into_the_evil_one_is_refused() -> None:
    """Row 1 (XSW: the signed assertion nested inside the attacker's, in its Subject)."""
    document = _signed()
    original = _assertion(document)
    evil = _evil_assertion(original)
    subject = evil.find("saml:Subject", NS)
    assert subject is not None
    subject.append(copy.deepcopy(original))
    document.replace(original, evil)
    assert _refusal(document).reason == "assertion_count"


def test_the_signed_assertion_hidden_in_extensions_with_an_evil_one_in_place_is_refused() -> None:
    """Row 1 (XSW: the original moved to samlp:Extensions, the evil copy keeps its ID)."""
    document = _signed()
    original = _assertion(document)
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(copy.deepcopy(original))
    document.insert(1, extensions)
    document.replace(original, _evil_assertion(original))
    assert _refusal(document).reason == "assertion_count"


def test_a_signed_response_wrapped_in_a_forged_one_is_refused() -> None:
    """Row 1 (XSW on the response signature: the signed original inside the forged response's
    signature Object, the forged response carrying an unsigned evil assertion)."""
    genuine = _signed(assertion=False, whole=True)
    forged = copy.deepcopy(genuine)
    signature = forged.find("ds:Signature", NS)
    assert signature is not None
    obj = etree.SubElement(signature, "{http://www.w3.org/2000/09/xmldsig#}Object")
    obj.append(genuine)
    forged.set("ID", new_id())
    name_id = forged.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "admin@acme.test"
    assert _refusal(forged).reason in {"assertion_count", "duplicate_id"}


def test_a_signature_referencing_another_element_is_refused() -> None:
    """Row 1 (the assertion's signature moved to the response, referencing the assertion)."""
    document = _signed()
    original = _assertion(document)
    signature = original.find("ds:Signature", NS)
    assert signature is not None
    original.remove(signature)
    document.insert(1, signature)
    assert _refusal(document).reason == "signature_reference_invalid"


def test_a_name_id_changed_after_signing_fails_the_signature() -> None:
    """Row 1: the signature covers the assertion; any change after signing is refused."""
    document = _signed()
    name_id = document.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "admin@acme.test"
    assert _refusal(document).reason == "signature_invalid"


# -- row 2: comment injection --------------------------------------------------------------------


def test_a_comment_injected_into_the_name_id_is_refused() -> None:
    """Row 2 (CVE-2017-11427): c14n drops comments, so the signature still verifies; a comment
    anywhere in the response is therefore refused outright."""
    document = _signed(name_id="ada@acme.test.evil.test")
    raw = etree.tostring(document).replace(
        b"ada@acme.test.evil.test", b"ada@acme.test<!---->.evil.test"
    )
    assert _refusal(raw).reason == "xml_comment"


def test_a_comment_injected_into_an_attribute_value_is_refused() -> None:
    """Row 2: the same in an AttributeValue (the email attribute)."""
    document = _signed(attributes={"email": ["bob@acme.test.evil.test"]})
    raw = etree.tostring(document).replace(
        b"bob@acme.test.evil.test", b"bob@acme.test<!--x-->.evil.test"
    )
    assert _refusal(raw).reason == "xml_comment"


# -- row 3: signed assertion required ------------------------------------------------------------


def test_an_unsigned_assertion_in_a_signed_response_is_refused() -> None:
    """Row 3 (SAML profiles 4.1.3.5): the response's signature does not stand in for the
    assertion's."""
    assert _refusal(_signed(assertion=False, whole=True)).reason == "assertion_unsigned"


def test_a_fully_unsigned_response_is_refused() -> None:
    """Row 3."""
    assert _refusal(build(_spec())).reason == "assertion_unsigned"


# -- rows 4, 5, 12: audience, destination, recipient, issuer --------------------------------------


def test_a_response_for_another_audience_is_refused() -> None:
    """Row 4 (saml-core 2.5.1.4): Audience must be this connection's SP entity id."""
    other = SP.replace("8d1c0e1e", "00000000")
    assert _refusal(_signed(audience=other)).reason == "audience_mismatch"


def test_a_response_without_destination_is_refused() -> None:
    """Row 5 (bindings 3.5.5.2): python3-saml accepts a missing Destination; we do not."""
    assert _refusal(_signed(omit_destination=True)).reason == "destination_missing"


@pytest.mark.parametrize(
    "destination",
    [
        ACS + "-other-tenant",  # python3-saml's prefix match accepts this one
        ACS.replace("8d1c0e1e", "00000000"),
        ACS.upper(),
        ACS + "/",
    ],
)
def test_a_response_for_a_foreign_destination_is_refused(destination: str) -> None:
    """Row 5: Destination exactly equal to the ACS URL, never a prefix."""
    assert _refusal(_signed(destination=destination)).reason == "destination_mismatch"


def test_a_response_without_recipient_is_refused() -> None:
    """Row 5 (profiles 4.1.4.2: Recipient MUST be present)."""
    assert _refusal(_signed(omit_recipient=True)).reason == "recipient_missing"


@pytest.mark.parametrize("recipient", [ACS + "-other-tenant", "https://evil.test/acs"])
def test_a_response_for_a_wrong_recipient_is_refused(recipient: str) -> None:
    """Row 5: Recipient exactly equal to the ACS URL."""
    assert _refusal(_signed(recipient=recipient)).reason == "recipient_mismatch"


def test_a_response_from_another_issuer_is_refused() -> None:
    """Row 12: Issuer of Response and Assertion is the connection's IdP entity id, even when
    the other issuer signed with the pinned key."""
    assert _refusal(_signed(issuer="https://idp.other.test/saml")).reason == "issuer_mismatch"


# -- row 6: InResponseTo ---------------------------------------------------------------------------


def test_a_response_to_another_request_is_refused() -> None:
    """Row 6: InResponseTo bound to this browser's AuthnRequest."""
    assert _refusal(_signed(request_id="_another")).reason == "in_response_to_mismatch"


def test_a_confirmation_answering_another_request_is_refused() -> None:
    """Row 6: the bearer SubjectConfirmationData's InResponseTo too."""
    document = _signed(confirmation_request_id="_another")
    assert _refusal(document).reason == "in_response_to_mismatch"


def test_an_unsolicited_response_is_refused_unless_idp_initiated_login_is_on() -> None:
    """Rows 6 and 15: with no request pending, only an opted-in connection takes the response."""
    unsolicited = replace(EXPECT, request_id=None)
    assert _refusal(_signed(request_id=None), unsolicited).reason == "unsolicited_refused"
    allowed = replace(unsolicited, allow_unsolicited=True)
    assert validate_response(encode(_signed(request_id=None)), allowed, time.time()).name_id


def test_a_solicited_response_replayed_as_idp_initiated_is_refused() -> None:
    """Row 6 (the Ory Polis behaviour of reference §5.2): an SP-initiated response posted
    without its transaction is not an IdP-initiated login."""
    allowed = replace(EXPECT, request_id=None, allow_unsolicited=True)
    assert _refusal(_signed(), allowed).reason == "in_response_to_mismatch"


# -- row 7: the time window ----------------------------------------------------------------------


def test_an_expired_response_is_refused_with_the_clock_delta() -> None:
    """Row 7 (saml-core 2.5.1.2): NotOnOrAfter plus the connection's skew; the trace gets the
    clock delta."""
    past = time.time() - 3600
    refused = _refusal(_signed(issued=past, not_on_or_after=past + 300))
    assert refused.reason == "expired"
    assert refused.clock_delta is not None
    assert refused.clock_delta > 3000


def test_a_response_not_yet_valid_is_refused_with_the_clock_delta() -> None:
    """Row 7: NotBefore minus the skew."""
    future = time.time() + 1800
    refused = _refusal(_signed(issued=future, not_before=future, not_on_or_after=future + 300))
    assert refused.reason == "not_yet_valid"
    assert refused.clock_delta is not None
    assert refused.clock_delta < -1700


def test_the_connection_skew_is_honoured_and_capped_at_300_seconds() -> None:
    """Row 7: 200 s of drift passes with skew 240 and fails with the default 120; a skew above
    300 s is clamped."""
    future = time.time() + 200
    document = _signed(issued=future, not_before=future, not_on_or_after=future + 300)
    assert _refusal(document).reason == "not_yet_valid"
    assert validate_response(encode(document), replace(EXPECT, skew_seconds=240), time.time())
    far = time.time() + 400
    later = _signed(issued=far, not_before=far, not_on_or_after=far + 300)
    assert _refusal(later, replace(EXPECT, skew_seconds=3600)).reason == "not_yet_valid"


# -- row 9: DTDs and entities ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "prolog",
    [
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE samlp:Response SYSTEM "http://127.0.0.1:1/evil.dtd">',
    ],
    ids=["entity-expansion", "external-entity", "external-dtd"],
)
def test_a_response_with_a_dtd_or_entities_is_refused(prolog: bytes) -> None:
    """Row 9 (OWASP XXE; CVE-2017-9672): refused before any parser sees it."""
    raw = etree.tostring(_signed())
    assert _refusal(prolog + raw).reason == "dtd_forbidden"


# -- row 10: algorithms ---------------------------------------------------------------------------


def _sha1_signed(**changes: object) -> etree._Element:
    document = build(_spec(**changes))
    assertion = _assertion(document)
    signed = OneLogin_Saml2_Utils.add_sign(
        etree.tostring(assertion),
        IDP_KEYS.key_pem,
        IDP_KEYS.cert_pem,
        sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA1,
        digest_algorithm=OneLogin_Saml2_Constants.SHA1,
    )
    document.replace(assertion, etree.fromstring(signed))
    return document


def test_a_sha1_signature_is_refused_without_the_connection_opt_in() -> None:
    """Row 10: RSA-SHA1 and SHA-1 digests only for a connection that opts in."""
    assert _refusal(_sha1_signed()).reason == "algorithm_refused"
    legacy = replace(EXPECT, allow_sha1=True)
    assert validate_response(encode(_sha1_signed()), legacy, time.time()).name_id


# -- row 11: key trust ----------------------------------------------------------------------------


def test_a_signature_by_a_key_in_keyinfo_that_is_not_pinned_is_refused() -> None:
    """Row 11 (pysaml2 CVE-2021-21239): a validly signed response carrying the attacker's own
    certificate in KeyInfo."""
    document = sign(build(_spec(name_id="admin@acme.test")), ATTACKER_KEYS)
    assert _refusal(document).reason == "certificate_not_pinned"


def test_a_signature_by_an_unpinned_key_without_keyinfo_is_refused() -> None:
    """Row 11: without a KeyInfo certificate, the pinned one simply does not verify it."""
    document = sign(build(_spec(name_id="admin@acme.test")), ATTACKER_KEYS)
    signature = document.find("saml:Assertion/ds:Signature", NS)
    assert signature is not None
    key_info = signature.find("ds:KeyInfo", NS)
    assert key_info is not None
    signature.remove(key_info)
    assert _refusal(document).reason == "signature_invalid"


def test_both_certificates_of_a_rollover_are_trusted() -> None:
    """Row 11: two pinned certificates during a rollover, either signs."""
    rollover = replace(EXPECT, certificates=(IDP_KEYS.cert_pem, ATTACKER_KEYS.cert_pem))
    for keys in (IDP_KEYS, ATTACKER_KEYS):
        document = sign(build(_spec()), keys)
        assert validate_response(encode(document), rollover, time.time()).name_id


# -- row 16: size ---------------------------------------------------------------------------------


def test_an_oversized_response_is_refused_before_parsing() -> None:
    """Row 16 (ruby-saml CVE-2025-25293): a size cap on the POSTed value."""
    padding = {"filler": ["x" * 1000] * (MAX_RESPONSE_BYTES // 1000 + 1)}
    assert _refusal(_signed(attributes=padding)).reason == "response_too_large"


def test_garbage_is_refused_uniformly() -> None:
    """Row 16 and the wrapper's rule 6: every malformed input is one refusal, never a crash."""
    for value in ("not base64!", base64.b64encode(b"<unclosed").decode(), ""):
        with pytest.raises(SamlError):
            validate_response(value, EXPECT, time.time())


# -- row 13: encrypted assertions -----------------------------------------------------------------

SP_KEYS = KeyPair.generate("idmesh SP")
ENCRYPTED = replace(EXPECT, sp_private_key=SP_KEYS.key_pem, sp_certificate=SP_KEYS.cert_pem)


def test_an_encrypted_signed_assertion_is_decrypted_with_our_key_and_accepted() -> None:
    """Row 13: decrypt with the connection's SP key, then verify the inner signature."""
    document = encrypt_assertion(_signed(), SP_KEYS.cert_pem)
    assert document.find("saml:Assertion", NS) is None
    valid = validate_response(encode(document), ENCRYPTED, time.time())
    assert valid.name_id == "ada@acme.test"


def test_an_encrypted_assertion_that_is_not_signed_inside_is_refused() -> None:
    """Rows 3 and 13: encryption is no signature; the inner assertion must be signed."""
    document = encrypt_assertion(build(_spec()), SP_KEYS.cert_pem)
    assert _refusal(document, ENCRYPTED).reason == "assertion_unsigned"


def test_an_encrypted_assertion_beside_a_plain_one_is_refused() -> None:
    """Rows 1 and 13: one assertion, encrypted or not, never both."""
    document = encrypt_assertion(_signed(), SP_KEYS.cert_pem)
    plain = _assertion(_signed())
    document.append(plain)
    assert _refusal(document, ENCRYPTED).reason in {"assertion_count", "response_invalid"}


def test_an_assertion_encrypted_to_another_key_is_refused() -> None:
    """Row 13: only our key decrypts; anything else is one uniform refusal."""
    other = KeyPair.generate("someone else")
    document = encrypt_assertion(_signed(), other.cert_pem)
    assert _refusal(document, ENCRYPTED).reason == "response_invalid"
