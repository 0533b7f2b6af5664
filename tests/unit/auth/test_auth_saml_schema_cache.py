"""The SAML protocol schema is compiled once per thread (auth.sso.saml.schemas), and every response
is still validated against it: python3-saml's strict mode refuses a response the schema does not
admit (SAML 2.0 Core §3.2.2: a Response's IssueInstant is an xs:dateTime)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from auth.sso.saml.schemas import CompiledSchemas
from auth.sso.saml.validator import SamlError, validate_response
from tests.idps.saml.responses import ResponseSpec, build, encode, sign
from tests.unit.auth.test_auth_saml_attacks import EXPECT, IDP_KEYS, _spec


def _response(**changes: object) -> str:
    spec: ResponseSpec = replace(_spec(), **changes)  # type: ignore[arg-type]
    return encode(sign(build(spec), IDP_KEYS, assertion=True, whole_response=False))


def _schemas() -> CompiledSchemas:
    compiled = OneLogin_Saml2_XML._schema_class
    assert isinstance(compiled, CompiledSchemas)
    return compiled


def test_the_protocol_schema_is_compiled_once_per_thread_for_every_response() -> None:
    validate_response(_response(), EXPECT, time.time())
    first = dict(_schemas()._by_file)
    validate_response(_response(), EXPECT, time.time())
    assert first
    assert dict(_schemas()._by_file) == first
    assert all(a is b for a, b in zip(first.values(), _schemas()._by_file.values(), strict=True))

    seen_elsewhere: list[dict[str, object]] = []

    def other_thread() -> None:
        validate_response(_response(), EXPECT, time.time())
        seen_elsewhere.append(dict(_schemas()._by_file))

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    (theirs,) = seen_elsewhere
    assert theirs.keys() == first.keys()
    assert all(theirs[name] is not first[name] for name in first)


def test_a_response_the_schema_does_not_admit_is_refused_with_the_schema_warm() -> None:
    """Signed, and right in every check of the wrapper, but with an IssueInstant that is no
    xs:dateTime: refused by the compiled schema, as often as it comes."""
    validate_response(_response(), EXPECT, time.time())
    for _ in range(2):
        document = sign(build(_spec()), IDP_KEYS, assertion=True, whole_response=False)
        document.attrib["IssueInstant"] = "yesterday"
        with pytest.raises(SamlError, match=r"saml-schema-protocol-2\.0\.xsd") as refused:
            validate_response(encode(document), EXPECT, time.time())
        assert refused.value.reason == "response_invalid"
