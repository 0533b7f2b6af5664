"""What python3-saml compiles for every response it checks, compiled once per thread instead.

python3-saml 1.16 does two kinds of work per response that only depend on constants:
- ``OneLogin_Saml2_XML.validate_xml`` reads ``saml-schema-protocol-2.0.xsd`` (and the four
  schemas it imports) from disk and compiles it, for every response;
- ``OneLogin_Saml2_XML.query`` compiles its XPath expression on every call, and checking one
  response makes some fifty of them (compiling is three quarters of a query's cost).

Both are replaced here by versions that compile each schema and each expression once per thread
and then do exactly what the library's do: the same schema, the same expressions, the same
results and the same error values ('unloaded_xml', 'invalid_xml'). One per thread, not one per
process: the validator runs on the default executor's threads, and lxml's XMLSchema and XPath
objects carry an error log and an evaluation context per object that concurrent validations
would share. tests/unit/auth/test_auth_saml_compiled.py checks both against the library's own
on the same documents, and that the library still has the signatures replaced here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

SCHEMAS: Final = Path(xml_utils.__file__).parent / "schemas"
LIBRARY_VALIDATE_XML: Final = OneLogin_Saml2_XML.validate_xml
LIBRARY_QUERY: Final = OneLogin_Saml2_XML.query
MAX_QUERIES: Final = 256
"""Expressions kept per thread at most: python3-saml's are constants (about forty; ids travel
in its ``$tagid`` variable), and the bound keeps one built from a document's content, should a
release add such, from growing the cache."""


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.schemas: dict[str, etree.XMLSchema] = {}
        self.queries: dict[str, etree.XPath] = {}


_compiled = _PerThread()


def schema(name: str) -> etree.XMLSchema:
    """python3-saml's schema ``name`` (a file of its schemas folder), compiled once per thread;
    parsed from its file so that its imports resolve beside it."""
    found = _compiled.schemas.get(name)
    if found is None:
        found = _compiled.schemas[name] = etree.XMLSchema(etree.parse(str(SCHEMAS / name)))
    return found


def validate_xml(xml: Any, schema_name: str, debug: bool = False) -> Any:
    """``OneLogin_Saml2_XML.validate_xml``: the document as an element when ``schema_name``
    admits it, else 'unloaded_xml' (not XML) or 'invalid_xml'."""
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:  # the library's own catch-all: any unreadable input is 'unloaded_xml'
        return "unloaded_xml"
    if not schema(schema_name).validate(document):
        return "invalid_xml"
    return document


def query(dom: Any, expression: str, context: Any = None, tagid: str | None = None) -> Any:
    """``OneLogin_Saml2_XML.query``: the nodes ``expression`` selects from ``context`` (else
    ``dom``), with the library's namespace prefixes and its ``$tagid`` variable."""
    compiled = _compiled.queries.get(expression)
    if compiled is None:
        compiled = etree.XPath(expression, namespaces=OneLogin_Saml2_Constants.NSMAP)
        if len(_compiled.queries) < MAX_QUERIES:
            _compiled.queries[expression] = compiled
    source = dom if context is None else context
    return compiled(source) if tagid is None else compiled(source, tagid=tagid)


def install() -> None:
    """Puts the compiled versions in place of python3-saml's (idempotent)."""
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)
    OneLogin_Saml2_XML.query = staticmethod(query)
