"""SAML sign-in end to end: the real gateway, auth and directory processes against samlify
2.13.1 as the IdP on 127.0.0.1 (docs/real-idps.md §3), driven the way a browser does it.
The connection is made with ``idmesh connection add-saml --metadata <the IdP's metadata URL>``;
samlify reads our SP metadata from the gateway's metadata endpoint."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.oidc.helpers import browser, run_idmesh
from tests.e2e.tenants import create_account, unique_name, verify_domain
from tests.idps.saml.samlify_idp import SamlifyIdp, read_post_form

pytestmark = pytest.mark.e2e

ENTRA_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
ENTRA_GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"


async def _connection(mesh: Mesh, samlify: SamlifyIdp, *extra: str) -> tuple[dict[str, Any], str]:
    name = unique_name("saml")
    account_id = await create_account(mesh, name)
    domain = f"{name}.test"
    await verify_domain(mesh, account_id, domain)
    out = await run_idmesh(
        mesh, "connection", "add-saml", "--account", name, "--metadata", samlify.metadata_url,
        "--domain", domain, *extra, "--json",
    )  # fmt: skip
    return json.loads(out)["connection"], domain


async def _sp_metadata(client: aiohttp.ClientSession, connection: dict[str, Any]) -> str:
    async with client.get(connection["saml"]["sp_entity_id"]) as response:
        assert response.status == 200
        return await response.text()


POSTED: list[bytes] = []


async def _post_form(client: aiohttp.ClientSession, page: str) -> aiohttp.ClientResponse:
    action, fields = read_post_form(page)
    POSTED.append(base64.b64decode(fields["SAMLResponse"]))
    async with client.post(action, data=fields, allow_redirects=False) as response:
        await response.read()
        return response


async def _sp_initiated(
    mesh: Mesh, samlify: SamlifyIdp, connection: dict[str, Any], client: aiohttp.ClientSession
) -> aiohttp.ClientResponse:
    start = f"{mesh.gateway_url}/sso/saml/{connection['id']}/start"
    async with client.get(start, allow_redirects=False) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(f"{samlify.base}/sso?")
    async with client.get(location) as idp_page:
        assert idp_page.status == 200, await idp_page.text()
        page = await idp_page.text()
    return await _post_form(client, page)


async def _trace(mesh: Mesh, connection: dict[str, Any]) -> auth_pb2.LoginTrace:
    async with connect(mesh.address("auth")) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        listed = await auth.ListLoginTraces(
            auth_pb2.ListLoginTracesRequest(account_id=connection["account_id"], page_size=1)
        )
    return listed.traces[0]


@pytest.mark.parametrize("sign", ["assertion", "both"])
async def test_an_sp_initiated_login_with_samlify_opens_a_session(
    saml_mesh: Mesh, samlify: SamlifyIdp, sign: str
) -> None:
    """Profiles 4.1: AuthnRequest (HTTP-Redirect) → samlify → ACS (HTTP-POST) → /me; signed
    assertion, and signed assertion inside a signed response."""
    connection, domain = await _connection(saml_mesh, samlify, "--vendor", "okta")
    async with browser() as client:
        samlify.configure(await _sp_metadata(client, connection), email=f"ada@{domain}",
                          attributes={"email": [f"ada@{domain}"]}, sign=sign)  # fmt: skip
        response = await _sp_initiated(saml_mesh, samlify, connection, client)
        assert response.status == 303
        assert response.headers["Location"] == "/me"
        async with client.get(f"{saml_mesh.gateway_url}/me") as me:
            assert me.status == 200
            assert f"ada@{domain}" in await me.text()


async def test_a_response_signed_only_on_the_outside_is_refused(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """Row 3: a signed response with an unsigned assertion is refused, with the trace id."""
    connection, domain = await _connection(saml_mesh, samlify)
    async with browser() as client:
        samlify.configure(await _sp_metadata(client, connection), email=f"eve@{domain}",
                          attributes={"email": [f"eve@{domain}"]}, sign="response")  # fmt: skip
        response = await _sp_initiated(saml_mesh, samlify, connection, client)
        assert response.status == 403
    assert (await _trace(saml_mesh, connection)).reason == "assertion_unsigned"


async def test_an_encrypted_assertion_from_samlify_is_decrypted_and_accepted(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """Row 13: samlify encrypts to the certificate in our SP metadata (AES-256-CBC, RSA-OAEP);
    auth decrypts with the connection's sealed key and checks the inner signature."""
    connection, domain = await _connection(saml_mesh, samlify)
    async with browser() as client:
        samlify.configure(await _sp_metadata(client, connection), email=f"enc@{domain}",
                          attributes={"email": [f"enc@{domain}"]}, encrypt=True)  # fmt: skip
        response = await _sp_initiated(saml_mesh, samlify, connection, client)
        assert response.status == 303, (await _trace(saml_mesh, connection)).reason
    assert b"EncryptedAssertion" in POSTED[-1]
    assert b"<saml:Assertion" not in POSTED[-1]


async def test_entra_claim_uris_with_multi_valued_groups_are_mapped(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """The Torque guide's Azure section: Entra's claim URIs and one AttributeValue per group."""
    connection, domain = await _connection(saml_mesh, samlify, "--vendor", "azure_ad")
    tenant, oid = "72f988bf-86f1-41af-91ab-2d7cd011db47", "5f8c7b0e-0000-4000-8000-00000000000a"
    attributes = {
        ENTRA_CLAIMS + "emailaddress": [f"grace@{domain}"],
        ENTRA_CLAIMS + "givenname": ["Grace"],
        ENTRA_CLAIMS + "surname": ["Hopper"],
        "http://schemas.microsoft.com/identity/claims/tenantid": [tenant],
        "http://schemas.microsoft.com/identity/claims/objectidentifier": [oid],
        ENTRA_GROUPS: [
            "0b6e2c61-0000-4000-8000-000000000001",
            "0b6e2c61-0000-4000-8000-000000000002",
        ],
    }
    async with browser() as client:
        samlify.configure(await _sp_metadata(client, connection), email=f"grace@{domain}",
                          attributes=attributes)  # fmt: skip
        response = await _sp_initiated(saml_mesh, samlify, connection, client)
        assert response.status == 303
    trace = await _trace(saml_mesh, connection)
    assert trace.subject == f"{tenant}|{oid}"
    assert list(trace.groups) == attributes[ENTRA_GROUPS]


async def _idp_initiated(
    samlify: SamlifyIdp, connection: dict[str, Any], domain: str, client: aiohttp.ClientSession
) -> aiohttp.ClientResponse:
    samlify.configure(await _sp_metadata(client, connection), email=f"ida@{domain}",
                      attributes={"email": [f"ida@{domain}"]})  # fmt: skip
    async with client.get(f"{samlify.base}/idp-init") as idp_page:
        page = await idp_page.text()
    return await _post_form(client, page)


async def test_idp_initiated_login_is_refused_unless_enabled(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """Rows 6 and 15: samlify's unsolicited response (no InResponseTo) is refused by default."""
    connection, domain = await _connection(saml_mesh, samlify)
    async with browser() as client:
        response = await _idp_initiated(samlify, connection, domain, client)
        assert response.status == 403
    assert (await _trace(saml_mesh, connection)).reason == "unsolicited_refused"


async def test_an_enabled_idp_initiated_login_restarts_as_an_sp_initiated_one(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """Row 15: with IdP-initiated on, samlify's unsolicited response opens no session (a forged
    one could sign a victim's browser in as the attacker: login CSRF); the browser is sent to
    start an SP-initiated login, which the IdP answers, and that one signs the user in."""
    connection, domain = await _connection(saml_mesh, samlify, "--allow-idp-initiated")
    async with browser() as client:
        response = await _idp_initiated(samlify, connection, domain, client)
        assert response.status == 303
        restart = response.headers["Location"]
        assert restart.startswith(f"/sso/saml/{connection['id']}/start?")
        assert not any(c.key == "idmesh_session" for c in client.cookie_jar)
        restarted = await _trace(saml_mesh, connection)
        assert restarted.outcome == auth_pb2.LOGIN_OUTCOME_RESTARTED
        async with client.get(f"{saml_mesh.gateway_url}{restart}", allow_redirects=False) as sent:
            assert sent.status == 302
            location = sent.headers["Location"]
        assert location.startswith(f"{samlify.base}/sso?")
        async with client.get(location) as idp_page:
            signed_in = await _post_form(client, await idp_page.text())
        assert signed_in.status == 303
        assert any(c.key == "idmesh_session" for c in client.cookie_jar)
    assert (await _trace(saml_mesh, connection)).outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
