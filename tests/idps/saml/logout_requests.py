"""Hand-made SAML LogoutRequests over the HTTP-Redirect binding (saml-bindings 3.4.4.1), for the
refusals the real IdPs will not produce: unsigned, signed with another key, sent to another
Destination. Built here, independently of idmesh's own code."""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import UTC, datetime
from urllib.parse import quote_plus
from xml.sax.saxutils import escape, quoteattr

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def logout_request_xml(*, issuer: str, destination: str, name_id: str) -> str:
    instant = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
        f' ID="_{secrets.token_hex(16)}" Version="2.0" IssueInstant="{instant}"'
        f" Destination={quoteattr(destination)}>"
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f'<saml:NameID Format="{EMAIL_FORMAT}">{escape(name_id)}</saml:NameID>'
        "</samlp:LogoutRequest>"
    )


def redirect_url(endpoint: str, xml: str, key_pem: str | None) -> str:
    """``endpoint`` with the deflated request, signed with ``key_pem`` (RSA-SHA256) unless
    None."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded = base64.b64encode(compressor.compress(xml.encode()) + compressor.flush()).decode()
    query = f"SAMLRequest={quote_plus(encoded)}"
    if key_pem is not None:
        query += f"&SigAlg={quote_plus(RSA_SHA256)}"
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
        query += f"&Signature={quote_plus(base64.b64encode(signature).decode())}"
    return f"{endpoint}?{query}"
