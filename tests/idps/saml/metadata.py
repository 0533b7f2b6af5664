"""IdP metadata documents for tests, as Okta publishes them (saml-metadata 2.4.3)."""

from __future__ import annotations

from tests.idps.saml.responses import KeyPair


def idp_metadata(entity_id: str, *keys: KeyPair) -> str:
    """Metadata for ``entity_id`` with one signing KeyDescriptor per key pair (two during a
    certificate rollover) and an HTTP-Redirect SSO URL."""
    descriptors = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        + "".join(k.cert_pem.splitlines()[1:-1])
        + "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for k in keys
    )
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
        f' xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{descriptors}"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"'
        ' Location="https://idp.acme.test/app/sso/saml"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
