"""SAML Single Logout with pysaml2 7.5.5 as the IdP (reference/real-idps.md §4), through auth's
gRPC API: the HTTP-POST binding with enveloped XML signatures that samlify's redirect flows do
not cover, and pysaml2's own verification of our signed LogoutRequest."""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest

from idmesh.auth.v1 import auth_pb2
from tests.idps.saml.pysaml2_idp import Pysaml2Idp
from tests.integration.sso.harness import verify_domain
from tests.integration.sso.test_saml_pysaml2_idp import BINDING, IDP, KEYS, _login
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("xmlsec1") is None and os.environ.get("CI") != "true",
        reason="needs Debian's xmlsec1 (make test-tools)",
    ),
]


async def _connection(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> tuple[auth_pb2.Connection, str, Pysaml2Idp]:
    idp = Pysaml2Idp(IDP, KEYS)
    account = await new_account(directory)
    domain = f"l{uuid.uuid4().hex[:10]}.test"
    await verify_domain(directory, account.id, domain)
    created = await auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=account.id,
                domains=[domain],
                saml=auth_pb2.SamlSettings(metadata_xml=idp.metadata()),
            ),
            public_url=gateway_url,
        )
    )
    metadata = await auth.GetSamlMetadata(
        auth_pb2.GetSamlMetadataRequest(connection_id=created.connection.id)
    )
    idp.trust(metadata.metadata_xml)
    return created.connection, domain, idp


async def _valid(auth: AuthServiceAsyncStub, secret: str) -> bool:
    try:
        await auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    except grpc.aio.AioRpcError as error:
        if error.code() is not grpc.StatusCode.UNAUTHENTICATED:
            raise
        return False
    return True


def _post(connection: auth_pb2.Connection, **fields: str) -> auth_pb2.SamlLogoutRequest:
    return auth_pb2.SamlLogoutRequest(connection_id=connection.id, binding="post", **fields)


async def test_a_pysaml2_logout_request_over_http_post_ends_the_session_once(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """saml-profiles 4.4.4 over HTTP-POST: pysaml2's LogoutRequest with an enveloped XML
    signature ends the NameID's session and is answered with our signed LogoutResponse to its
    SLO URL; delivered again it is refused (replay cache), tampered after signing it is
    refused (signature)."""
    connection, domain, idp = await _connection(auth, directory, gateway_url)
    assert connection.saml.slo_url == idp.slo_url
    email = f"ada@{domain}"
    secret = (await _login(auth, connection, idp, email)).session_secret
    request = idp.logout_request(connection.saml.sp_entity_id, email=email)
    tampered = base64.b64encode(
        base64.b64decode(request).replace(email.encode(), f"eve@{domain}".encode())
    ).decode()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await auth.SamlLogout(_post(connection, saml_request=tampered))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert await _valid(auth, secret)
    done = await auth.SamlLogout(_post(connection, saml_request=request))
    assert done.ended_sessions == 1
    assert done.redirect_url.startswith(f"{idp.slo_url}?SAMLResponse=")
    assert not await _valid(auth, secret)
    with pytest.raises(grpc.aio.AioRpcError) as replayed:
        await auth.SamlLogout(_post(connection, saml_request=request))
    assert replayed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "already received" in (replayed.value.details() or "")


async def test_pysaml2_verifies_our_logout_request_and_its_signed_answer_signs_us_out(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """saml-profiles 4.4.3: our LogoutRequest's redirect-binding signature verifies with
    pysaml2 against our SP metadata and names the session's NameID and SessionIndex; pysaml2's
    XML-signed LogoutResponse over HTTP-POST answers it."""
    connection, domain, idp = await _connection(auth, directory, gateway_url)
    email = f"grace@{domain}"
    secret = (await _login(auth, connection, idp, email)).session_secret
    ended = await auth.EndSession(
        auth_pb2.EndSessionRequest(
            session_secret=secret, public_url=gateway_url, browser_binding=BINDING
        )
    )
    assert ended.logout_url.startswith(f"{idp.slo_url}?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(ended.logout_url).query).items()}
    request = idp.read_logout_request(
        query["SAMLRequest"], query["RelayState"], query["SigAlg"], query["Signature"]
    )
    assert request.message.name_id.text == email
    assert request.message.session_index[0].text
    answer = idp.logout_response(request)
    # Another browser cannot use the answer (the pending logout is bound to the browser that
    # asked), nor spend it: the genuine delivery that follows is accepted.
    with pytest.raises(grpc.aio.AioRpcError) as elsewhere:
        await auth.SamlLogout(
            _post(
                connection,
                saml_response=answer,
                relay_state=query["RelayState"],
                browser_binding="x" * 43,
            )
        )
    assert elsewhere.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    done = await auth.SamlLogout(
        _post(
            connection,
            saml_response=answer,
            relay_state=query["RelayState"],
            browser_binding=BINDING,
        )
    )
    assert done.signed_out
    assert not done.partial
