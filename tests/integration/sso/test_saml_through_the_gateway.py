"""SAML sign-in through the production gateway and auth over gRPC (in-process), with the test
IdP of tests/idps/saml signing responses: connection creation (fields and IdP metadata), SP
metadata, home-realm discovery, AuthnRequest over HTTP-Redirect, ACS over HTTP-POST, the session
on /me, and a refused response rendered as the uniform error page with the trace id."""

from __future__ import annotations

import base64
import logging
import uuid
import zlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from lxml import etree
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from idmesh.auth.v1 import auth_pb2
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair, ResponseSpec, build, encode, sign
from tests.integration.sso.harness import browser, create_space, last_trace, verify_domain
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = pytest.mark.integration

IDP = "https://idp.acme.test/saml/metadata"
IDP_KEYS = KeyPair.generate("idp.acme.test")
NEXT_KEYS = KeyPair.generate("idp.acme.test next")


async def _tenant(
    auth: AuthServiceAsyncStub,
    directory: Stub,
    gateway_url: str,
    *,
    allow_idp_initiated: bool = False,
) -> tuple[auth_pb2.Connection, str]:
    account = await new_account(directory)
    domain = f"t{uuid.uuid4().hex[:10]}.test"
    await verify_domain(directory, account.id, domain)
    settings = auth_pb2.SamlSettings(
        metadata_xml=idp_metadata(IDP, IDP_KEYS, NEXT_KEYS),
        vendor=auth_pb2.SAML_VENDOR_OKTA,
        allow_idp_initiated=allow_idp_initiated,
    )
    created = await auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=account.id, domains=[domain], saml=settings, created_by="tests",
                profile_update=auth_pb2.PROFILE_UPDATE_EVERY_LOGIN,
            ),
            public_url=gateway_url,
        )
    )  # fmt: skip
    return created.connection, domain


async def _start(client: aiohttp.ClientSession, gateway_url: str, connection_id: str) -> str:
    async with client.get(
        f"{gateway_url}/sso/saml/{connection_id}/start", allow_redirects=False
    ) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"]


def _request(location: str) -> tuple[str, str]:
    """(AuthnRequest ID, RelayState) from the HTTP-Redirect binding URL."""
    query = parse_qs(urlsplit(location).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return etree.fromstring(xml).get("ID") or "", query["RelayState"][0]


def _response(connection: auth_pb2.Connection, request_id: str | None, email: str,
              keys: KeyPair = IDP_KEYS, **attributes: list[str]) -> str:  # fmt: skip
    spec = ResponseSpec(
        acs_url=connection.saml.acs_url,
        audience=connection.saml.sp_entity_id,
        issuer=IDP,
        request_id=request_id,
        name_id=email,
        attributes={"email": [email], **attributes},
    )
    return encode(sign(build(spec), keys))


async def test_a_saml_connection_imported_from_metadata_publishes_its_sp_metadata(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """Issue 5: IdP metadata fills entity id, SSO URL and both certificates; our SP metadata
    names the connection's entity id, its ACS URL and our certificate."""
    connection, _ = await _tenant(auth, directory, gateway_url)
    assert connection.saml.idp_entity_id == IDP
    assert connection.saml.sso_url == "https://idp.acme.test/app/sso/saml"
    assert len(connection.saml.certificates) == 2
    assert connection.saml.acs_url == f"{gateway_url}/sso/saml/{connection.id}/acs"
    assert connection.saml.clock_skew_seconds == 120
    assert not connection.saml.allow_idp_initiated
    url = f"{gateway_url}/sso/saml/{connection.id}/metadata"
    async with browser() as client, client.get(url) as response:
        assert response.status == 200
        metadata = etree.fromstring(await response.read())
    assert metadata.get("entityID") == connection.saml.sp_entity_id
    ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
    acs = metadata.find(".//md:AssertionConsumerService", ns)
    assert acs is not None
    assert acs.get("Location") == connection.saml.acs_url
    uses = {k.get("use") for k in metadata.findall(".//md:KeyDescriptor", ns)}
    assert uses == {"signing", "encryption"}


async def test_a_saml_login_through_the_gateway_opens_a_session_with_spaces(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """Home-realm discovery → AuthnRequest (HTTP-Redirect, opaque RelayState) → ACS (HTTP-POST)
    → session cookie → /me, with the space rules applied through ProvisionLogin."""
    connection, domain = await _tenant(auth, directory, gateway_url)
    await create_space(directory, connection.account_id, "DevOps")
    email = f"ada@{domain}"
    async with browser() as client:
        async with client.post(
            f"{gateway_url}/login", data={"email": email}, allow_redirects=False
        ) as found:
            assert found.status == 303
            assert found.headers["Location"].startswith(f"/sso/saml/{connection.id}/start")
        location = await _start(client, gateway_url, connection.id)
        assert location.startswith("https://idp.acme.test/app/sso/saml?")
        request_id, relay_state = _request(location)
        body = _response(connection, request_id, email, space_name=["DevOps"],
                         space_role=["Space Developer"])  # fmt: skip
        async with client.post(
            connection.saml.acs_url,
            data={"SAMLResponse": body, "RelayState": relay_state},
            allow_redirects=False,
        ) as response:
            assert response.status == 303, await response.text()
            assert response.headers["Location"] == "/me"
        async with client.get(f"{gateway_url}/me") as page:
            html = await page.text()
            assert page.status == 200
    assert email in html
    assert "DevOps" in html
    assert "Space Developer" in html
    trace = await last_trace(auth, connection.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS


async def test_the_second_certificate_of_a_rollover_signs_in_too(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """Row 11: during a rollover the IdP signs with its next key; both are pinned."""
    connection, domain = await _tenant(auth, directory, gateway_url)
    async with browser() as client:
        request_id, relay_state = _request(await _start(client, gateway_url, connection.id))
        body = _response(connection, request_id, f"bo@{domain}", keys=NEXT_KEYS)
        async with client.post(
            connection.saml.acs_url,
            data={"SAMLResponse": body, "RelayState": relay_state},
            allow_redirects=False,
        ) as response:
            assert response.status == 303


async def test_a_refused_response_shows_the_error_page_with_the_trace_id(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """The uniform error page: the browser learns the trace id, the trace holds the reason."""
    connection, domain = await _tenant(auth, directory, gateway_url)
    async with browser() as client:
        request_id, relay_state = _request(await _start(client, gateway_url, connection.id))
        body = _response(connection, "_" + request_id, f"eve@{domain}")
        async with client.post(
            connection.saml.acs_url,
            data={"SAMLResponse": body, "RelayState": relay_state},
            allow_redirects=False,
        ) as response:
            html = await response.text()
            assert response.status == 403
    trace = await last_trace(auth, connection.account_id)
    assert trace.reason == "in_response_to_mismatch"
    assert trace.trace_id in html
    assert "in_response_to" not in html


async def test_an_unsolicited_post_is_refused_unless_the_connection_opts_in(
    auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str
) -> None:
    """Rows 6 and 15: IdP-initiated login is off by default and per connection opt-in; an
    accepted IdP-initiated POST sets no session cookie and sends the browser to start an
    SP-initiated login of the connection (login CSRF defence)."""
    connection, domain = await _tenant(auth, directory, gateway_url)
    opted, opted_domain = await _tenant(auth, directory, gateway_url, allow_idp_initiated=True)
    async with browser() as client:
        refused = _response(connection, None, f"ida@{domain}")
        async with client.post(
            connection.saml.acs_url, data={"SAMLResponse": refused}, allow_redirects=False
        ) as response:
            assert response.status == 403
        assert (await last_trace(auth, connection.account_id)).reason == "unsolicited_refused"
        accepted = _response(opted, None, f"ida@{opted_domain}")
        async with client.post(
            opted.saml.acs_url, data={"SAMLResponse": accepted}, allow_redirects=False
        ) as response:
            assert response.status == 303
            location = response.headers["Location"]
            assert location == f"/sso/saml/{opted.id}/start?return_to=%2F"
            assert "idmesh_session" not in response.cookies


async def test_no_name_id_or_attribute_value_reaches_logs_or_spans(
    auth: AuthServiceAsyncStub,
    directory: Stub,
    gateway_url: str,
    spans: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/architecture.md Tracing: ids and outcomes only; a successful and a refused login leave
    no NameID, attribute value or response body in any span attribute or log record."""
    caplog.set_level(logging.DEBUG)
    spans.clear()
    connection, domain = await _tenant(auth, directory, gateway_url)
    secret_value = f"secret-{uuid.uuid4().hex}"
    email = f"zed-{uuid.uuid4().hex[:6]}@{domain}"
    async with browser() as client:
        for request_id_suffix in ("", "x"):
            request_id, relay_state = _request(await _start(client, gateway_url, connection.id))
            body = _response(connection, request_id + request_id_suffix, email,
                             department=[secret_value])  # fmt: skip
            async with client.post(
                connection.saml.acs_url,
                data={"SAMLResponse": body, "RelayState": relay_state},
                allow_redirects=False,
            ) as response:
                await response.read()
    recorded = [str(dict(span.attributes or {})) for span in spans.get_finished_spans()]
    recorded += [str(event.attributes) for s in spans.get_finished_spans() for event in s.events]
    # signxml is the test IdP's signer in this process, not part of idmesh.
    ours = [r for r in caplog.records if not r.name.startswith(("signxml", "xmlschema"))]
    recorded += [record.getMessage() + str(record.__dict__) for record in ours]
    assert recorded
    for text in recorded:
        assert email not in text
        assert secret_value not in text
        assert "PHNhbWxw" not in text  # base64 of "<samlp"
