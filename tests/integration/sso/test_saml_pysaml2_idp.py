"""A second, independent IdP implementation (pysaml2 7.5.5 signing through Debian's xmlsec1,
docs/real-idps.md §4): its responses are accepted through auth's gRPC API, and its default
RSA-SHA1 signature is refused without the connection's opt-in (sso-security.md §2 row 10)."""

from __future__ import annotations

import base64
import os
import shutil
import uuid
import zlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from lxml import etree

from idmesh.auth.v1 import auth_pb2
from tests.idps.saml.pysaml2_idp import Pysaml2Idp
from tests.idps.saml.responses import KeyPair
from tests.integration.sso.harness import last_trace, verify_domain
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = [
    pytest.mark.integration,
    # In CI a missing xmlsec1 fails the tests instead: .ci/run installs it (make test-tools).
    pytest.mark.skipif(
        shutil.which("xmlsec1") is None and os.environ.get("CI") != "true",
        reason="needs Debian's xmlsec1 (make test-tools)",
    ),
]

IDP = "https://pysaml2.idp.test/idp/metadata"
KEYS = KeyPair.generate("pysaml2.idp.test")
BINDING = "p" * 43


async def _connection(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str, *, allow_sha1: bool = False
) -> tuple[auth_pb2.Connection, str, Pysaml2Idp]:
    idp = Pysaml2Idp(IDP, KEYS)
    account = await new_account(directory)
    domain = f"p{uuid.uuid4().hex[:10]}.test"
    await verify_domain(directory, account.id, domain)
    created = await auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=account.id,
                domains=[domain],
                saml=auth_pb2.SamlSettings(metadata_xml=idp.metadata(), allow_sha1=allow_sha1),
            ),
            public_url=gateway_url,
        )
    )
    metadata = await auth.GetSamlMetadata(
        auth_pb2.GetSamlMetadataRequest(connection_id=created.connection.id)
    )
    idp.trust(metadata.metadata_xml)
    return created.connection, domain, idp


async def _login(
    auth: AuthServiceAsyncStub, connection: auth_pb2.Connection, idp: Pysaml2Idp, email: str,
    *, sha256: bool = True,
) -> auth_pb2.FinishSamlLoginResponse:  # fmt: skip

    started = await auth.StartSamlLogin(
        auth_pb2.StartSamlLoginRequest(
            connection_id=connection.id, return_to="/me", browser_binding=BINDING
        )
    )
    query = parse_qs(urlsplit(started.redirect_url).query)
    request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))
    body = idp.response(
        connection.saml.sp_entity_id,
        email=email,
        in_response_to=request.get("ID"),
        identity={"email": [email], "groups": ["eng", "ops"]},
        sha256=sha256,
    )
    return await auth.FinishSamlLogin(
        auth_pb2.FinishSamlLoginRequest(
            connection_id=connection.id,
            saml_response=body,
            relay_state=query["RelayState"][0],
            browser_binding=BINDING,
        )
    )


async def test_a_pysaml2_response_signed_on_both_levels_is_accepted(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """Issue 5: a second, independent IdP implementation produces responses we accept."""
    connection, domain, idp = await _connection(auth, directory, gateway_url)
    finished = await _login(auth, connection, idp, f"ada@{domain}")
    assert finished.session_secret
    trace = await last_trace(auth, connection.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert trace.email == f"ada@{domain}"


async def test_pysaml2_default_sha1_signatures_are_refused_without_the_opt_in(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """Row 10: pysaml2 signs RSA-SHA1 unless told otherwise; refused by default, accepted
    for a connection that opts in."""
    connection, domain, idp = await _connection(auth, directory, gateway_url)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _login(auth, connection, idp, f"bo@{domain}", sha256=False)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert (await last_trace(auth, connection.account_id)).reason == "algorithm_refused"
    legacy, legacy_domain, legacy_idp = await _connection(
        auth, directory, gateway_url, allow_sha1=True
    )
    finished = await _login(auth, legacy, legacy_idp, f"bo@{legacy_domain}", sha256=False)
    assert finished.session_secret
