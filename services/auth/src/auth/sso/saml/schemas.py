"""The SAML XML Schemas python3-saml validates every response against, compiled once per thread.

python3-saml 1.16 reads and compiles ``saml-schema-protocol-2.0.xsd`` (and the four schemas it
imports) for every response it checks: 2.3 ms of CPU per SAML login, about a third of auth's
share of one. The schema does not change while the process runs, so the compiled schema is kept,
keyed by the file it came from. One per thread, not one per process: the validator runs on the
default executor's threads, and lxml's XMLSchema carries an error log per object that concurrent
validations would share. The library leaves the compilation to its ``_schema_class`` hook, which
is where this cache is installed; validation itself, and what it refuses, are unchanged.
"""

from __future__ import annotations

import threading

from lxml import etree
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML


class CompiledSchemas(threading.local):
    """Called as ``etree.XMLSchema(tree)`` is: the schema compiled from ``tree``'s file, compiled
    the first time this thread asks for that file."""

    def __init__(self) -> None:
        self._by_file: dict[str, etree.XMLSchema] = {}

    def __call__(self, tree: etree._ElementTree) -> etree.XMLSchema:
        source = tree.docinfo.URL
        if source is None:  # not read from a file: nothing to key it by
            return etree.XMLSchema(tree)
        schema = self._by_file.get(source)
        if schema is None:
            schema = self._by_file[source] = etree.XMLSchema(tree)
        return schema


def compile_schemas_once() -> None:
    """Installs the cache in python3-saml (idempotent)."""
    if not isinstance(OneLogin_Saml2_XML._schema_class, CompiledSchemas):
        OneLogin_Saml2_XML._schema_class = CompiledSchemas()
