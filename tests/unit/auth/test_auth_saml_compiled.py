"""python3-saml's schema and XPath work, compiled once per thread (auth.sso.saml.compiled), gives
the answers of the library's own functions, and every response is still validated against the
schema: strict mode refuses a response the schema does not admit (SAML 2.0 Core §3.2.2: a
Response's IssueInstant is an xs:dateTime)."""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import replace

import pytest
from lxml import etree
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from auth.sso.saml import compiled
from auth.sso.saml.validator import SamlError, validate_response
from tests.idps.saml.responses import ResponseSpec, build, encode, sign
from tests.unit.auth.test_auth_saml_attacks import EXPECT, IDP_KEYS, _spec

PROTOCOL_SCHEMA = "saml-schema-protocol-2.0.xsd"
# Queries python3-saml 1.16 makes of every response (response.py, utils.py), with and without
# its $tagid variable.
LIBRARY_QUERIES = [
    ("/samlp:Response", None),
    ("/samlp:Response/saml:Assertion", None),
    ("/samlp:Response/saml:Assertion/saml:Subject/saml:NameID", None),
    ("/samlp:Response/saml:Assertion/saml:AttributeStatement/saml:Attribute", None),
    ("//ds:Signature", None),
    ("//*[@ID=$tagid]", "placeholder"),
]


def _document(**changes: object) -> etree._Element:
    spec: ResponseSpec = replace(_spec(), **changes)  # type: ignore[arg-type]
    return sign(build(spec), IDP_KEYS, assertion=True, whole_response=False)


def _response(**changes: object) -> str:
    return encode(_document(**changes))


def test_the_compiled_versions_are_the_ones_python3_saml_calls() -> None:
    validate_response(_response(), EXPECT, time.time())
    assert OneLogin_Saml2_XML.validate_xml is compiled.validate_xml
    assert OneLogin_Saml2_XML.query is compiled.query


def test_the_replaced_library_functions_still_take_the_arguments_the_replacements_take() -> None:
    """A python3-saml upgrade that changes either signature fails here, not in production."""
    assert list(inspect.signature(compiled.LIBRARY_VALIDATE_XML).parameters) == [
        "xml", "schema", "debug",
    ]  # fmt: skip
    assert list(inspect.signature(compiled.LIBRARY_QUERY).parameters) == [
        "dom", "query", "context", "tagid",
    ]  # fmt: skip


def test_every_query_selects_the_nodes_the_library_selects() -> None:
    document = _document()
    assertion = document.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    assert assertion is not None
    assertion_id = assertion.get("ID")
    for expression, tagid in LIBRARY_QUERIES:
        tag = assertion_id if tagid else None
        for context in (None, assertion):
            ours = compiled.query(document, expression, context, tag)
            theirs = compiled.LIBRARY_QUERY(document, expression, context, tag)
            assert ours == theirs, expression
    assert compiled.query(document, "//*[@ID=$tagid]", None, assertion_id)


def test_the_expressions_kept_per_thread_are_bounded() -> None:
    """Expressions beyond the bound are compiled and used, not kept."""
    document = _document()
    for number in range(compiled.MAX_QUERIES + 10):
        assert compiled.query(document, f"/samlp:Response[{number} >= 0]") == [document]
    assert len(compiled._compiled.queries) == compiled.MAX_QUERIES


def test_schema_validation_answers_as_the_library_does_for_valid_invalid_and_unreadable() -> None:
    valid = _document()
    invalid = _document()
    invalid.attrib["IssueInstant"] = "yesterday"
    for document in (valid, invalid, b"<not-closed", "not xml at all"):
        ours = compiled.validate_xml(document, PROTOCOL_SCHEMA)
        theirs = compiled.LIBRARY_VALIDATE_XML(document, PROTOCOL_SCHEMA)
        if isinstance(theirs, str):
            assert ours == theirs
        else:
            assert etree.tostring(ours) == etree.tostring(theirs)
    assert compiled.validate_xml(invalid, PROTOCOL_SCHEMA) == "invalid_xml"


def test_each_schema_is_compiled_once_per_thread() -> None:
    first = compiled.schema(PROTOCOL_SCHEMA)
    assert compiled.schema(PROTOCOL_SCHEMA) is first

    seen_elsewhere: list[etree.XMLSchema] = []
    worker = threading.Thread(
        target=lambda: seen_elsewhere.append(compiled.schema(PROTOCOL_SCHEMA))
    )
    worker.start()
    worker.join()
    (theirs,) = seen_elsewhere
    assert theirs is not first


def test_a_response_the_schema_does_not_admit_is_refused_with_the_schema_warm() -> None:
    """Signed, and right in every check of the wrapper, but with an IssueInstant that is no
    xs:dateTime: refused by the compiled schema, as often as it comes."""
    validate_response(_response(), EXPECT, time.time())
    for _ in range(2):
        document = _document()
        document.attrib["IssueInstant"] = "yesterday"
        with pytest.raises(SamlError, match=r"saml-schema-protocol-2\.0\.xsd") as refused:
            validate_response(encode(document), EXPECT, time.time())
        assert refused.value.reason == "response_invalid"
