"""A second, independent SAML IdP for the tests: pysaml2 7.5.5 (it signs through Debian's
``xmlsec1`` binary), configured as docs/real-idps.md §4 describes. Test-only: it is 10-20x
slower than python3-saml and shells out, which is why it is never on the login path."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any, Final

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.samlp import STATUS_SUCCESS  # noqa: F401 - imported for its side effect on schemas
from saml2.server import Server
from saml2.sigver import get_xmlsec_binary
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from tests.idps.saml.responses import KeyPair

AUTHN_PASSWORD_PROTECTED: Final = (
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
)


class Pysaml2Idp:
    """``Pysaml2Idp(entity_id, keys)``; ``trust(sp_metadata_xml)`` before ``response(...)``."""

    def __init__(self, entity_id: str, keys: KeyPair) -> None:
        self.entity_id = entity_id
        self._folder = Path(tempfile.mkdtemp(prefix="pysaml2-idp-"))
        self._key = self._folder / "idp.key"
        self._cert = self._folder / "idp.crt"
        self._key.write_text(keys.key_pem)
        self._cert.write_text(keys.cert_pem)
        self._server: Server | None = None

    def _config(self, sp_metadata: Path | None) -> dict[str, Any]:
        return {
            "entityid": self.entity_id,
            "xmlsec_binary": get_xmlsec_binary(["/usr/bin", "/usr/local/bin"]),
            "key_file": str(self._key),
            "cert_file": str(self._cert),
            "metadata": {"local": [str(sp_metadata)]} if sp_metadata else {},
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            (self.entity_id.rsplit("/", 1)[0] + "/sso", BINDING_HTTP_REDIRECT)
                        ],
                        "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    # pysaml2 checks a request's redirect-binding signature only when it must
                    # (AuthnRequests are never parsed here; the SP's LogoutRequest is).
                    "want_authn_requests_signed": True,
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                        }
                    },
                }
            },
        }

    @property
    def slo_url(self) -> str:
        return self.entity_id.rsplit("/", 1)[0] + "/slo"

    def metadata(self) -> str:
        """The IdP metadata XML (entity id, SSO URL, signing certificate)."""
        config = IdPConfig().load(self._config(None))
        return str(entity_descriptor(config))

    def trust(self, sp_metadata_xml: str) -> None:
        path = self._folder / "sp.xml"
        path.write_text(sp_metadata_xml)
        self._server = Server(config=IdPConfig().load(self._config(path)))

    def response(
        self,
        sp_entity_id: str,
        *,
        email: str,
        in_response_to: str | None,
        identity: dict[str, list[str]],
        sha256: bool = True,
    ) -> str:
        """The base64 SAMLResponse for the SP's ACS, response and assertion both signed."""
        assert self._server is not None, "call trust() with the SP metadata first"
        destination = self._server.metadata.assertion_consumer_service(
            sp_entity_id, binding=BINDING_HTTP_POST
        )[0]["location"]
        algorithms = {"sign_alg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256} if sha256 else {}
        response = self._server.create_authn_response(
            identity=identity,
            in_response_to=in_response_to,
            destination=destination,
            sp_entity_id=sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
            sign_response=True,
            sign_assertion=True,
            **algorithms,
        )
        return base64.b64encode(str(response).encode()).decode()

    # -- Single Logout (saml-profiles 4.4) ------------------------------------------------------

    def logout_request(self, sp_entity_id: str, *, email: str, session_index: str = "") -> str:
        """An IdP-initiated LogoutRequest for the SP's HTTP-POST SingleLogoutService, signed
        with an enveloped XML signature (RSA-SHA256), base64 (bindings 3.5)."""
        assert self._server is not None, "call trust() with the SP metadata first"
        destination = self._server.metadata.single_logout_service(
            sp_entity_id, binding=BINDING_HTTP_POST, typ="spsso"
        )[0]["location"]
        _, request = self._server.create_logout_request(
            destination,
            sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            session_indexes=[session_index] if session_index else None,
            sign=True,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        return base64.b64encode(str(request).encode()).decode()

    def read_logout_request(
        self, saml_request: str, relay_state: str, sigalg: str, signature: str
    ) -> Any:
        """The SP's LogoutRequest from an HTTP-Redirect URL's (decoded) parameters, its query
        signature verified by pysaml2 against the SP metadata's signing certificate."""
        assert self._server is not None, "call trust() with the SP metadata first"
        return self._server.parse_logout_request(
            saml_request, BINDING_HTTP_REDIRECT, relay_state=relay_state, sigalg=sigalg,
            signature=signature,
        )  # fmt: skip

    def logout_response(self, request: Any) -> str:
        """The signed (RSA-SHA256) LogoutResponse to ``request`` for the SP's HTTP-POST
        SingleLogoutService, base64."""
        assert self._server is not None, "call trust() with the SP metadata first"
        response = self._server.create_logout_response(
            request.message, bindings=[BINDING_HTTP_POST], sign=True, sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )  # fmt: skip
        return base64.b64encode(str(response).encode()).decode()
