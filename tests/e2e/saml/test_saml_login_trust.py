"""How an attacker tried to get in over SAML, replayed against the real gateway, auth and
directory processes, with genuinely signed responses from the test IdP of tests/idps/saml
(its metadata given to ``idmesh connection add-saml --metadata FILE``, as an operator does).

- An assertion whose signed SubjectConfirmationData carries no ``InResponseTo`` is unsolicited,
  whatever the unsigned ``<Response>`` around it claims (SAML profiles §4.1.4.2–4.1.4.3: the
  request id an SP may trust is the one under a signature; sso-security.md row 6).
- A pending login is consumed only by a response that passed every check: a refused POST (a
  garbled response, or one an attacker sends with a RelayState seen in a URL) leaves the
  user's sign-in open, and the genuine response that follows signs them in.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from lxml import etree

from idmesh.auth.v1 import auth_pb2
from infra.dev.mesh import Mesh
from tests.e2e.oidc.helpers import browser, login_traces, run_idmesh
from tests.e2e.tenants import create_account, unique_name, verify_domain
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import NS, KeyPair, ResponseSpec, build, encode, sign

pytestmark = pytest.mark.e2e

IDP = "https://idp.acme.test/saml/metadata"
IDP_KEYS = KeyPair.generate("idp.acme.test")
SESSION_COOKIE = "idmesh_session"


async def _connection(mesh: Mesh, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], str]:
    name = unique_name("trust")
    account_id = await create_account(mesh, name)
    domain = f"{name}.test"
    await verify_domain(mesh, account_id, domain)
    metadata = tmp_path / f"{name}.xml"
    metadata.write_text(idp_metadata(IDP, IDP_KEYS))
    out = await run_idmesh(
        mesh, "connection", "add-saml", "--account", name, "--metadata", str(metadata),
        "--domain", domain, *extra, "--json",
    )  # fmt: skip
    return json.loads(out)["connection"], domain


async def _start(
    mesh: Mesh, client: aiohttp.ClientSession, connection: dict[str, Any]
) -> tuple[str, str]:
    """Starts an SP-initiated login in ``client``: (AuthnRequest ID, RelayState)."""
    url = f"{mesh.gateway_url}/sso/saml/{connection['id']}/start"
    async with client.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        query = parse_qs(urlsplit(response.headers["Location"]).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return etree.fromstring(xml).get("ID") or "", query["RelayState"][0]


def _spec(connection: dict[str, Any], request_id: str | None, email: str) -> ResponseSpec:
    return ResponseSpec(
        acs_url=connection["saml"]["acs_url"],
        audience=connection["saml"]["sp_entity_id"],
        issuer=IDP,
        request_id=request_id,
        name_id=email,
        attributes={"email": [email]},
    )


def _wrapped_unsolicited(connection: dict[str, Any], pending_request_id: str, email: str) -> str:
    """A genuinely signed assertion whose confirmation answers no request, inside an unsigned
    Response that names the victim's pending request."""
    document = build(_spec(connection, pending_request_id, email))
    data = document.find(".//saml:SubjectConfirmationData", NS)
    assert data is not None
    del data.attrib["InResponseTo"]
    return encode(sign(document, IDP_KEYS, assertion=True, whole_response=False))


async def _post(
    client: aiohttp.ClientSession, connection: dict[str, Any], **form: str
) -> aiohttp.ClientResponse:
    async with client.post(
        connection["saml"]["acs_url"], data=form, allow_redirects=False
    ) as response:
        await response.read()
        return response


def _signed_in(client: aiohttp.ClientSession) -> bool:
    return any(cookie.key == SESSION_COOKIE for cookie in client.cookie_jar)


async def test_a_signed_unsolicited_assertion_in_a_wrapper_naming_a_pending_request_is_refused(
    saml_mesh: Mesh, tmp_path: Path
) -> None:
    """Row 6 with IdP-initiated login off: the envelope's InResponseTo is not signed, so the
    assertion is unsolicited and refused; nothing is signed in."""
    connection, domain = await _connection(saml_mesh, tmp_path)
    async with browser() as client:
        request_id, relay_state = await _start(saml_mesh, client, connection)
        forged = _wrapped_unsolicited(connection, request_id, f"eve@{domain}")
        response = await _post(client, connection, SAMLResponse=forged, RelayState=relay_state)
        assert response.status == 403
        assert not _signed_in(client)
    traces = await login_traces(saml_mesh, connection["account_id"])
    assert traces[0].reason == "unsolicited_refused"
    assert traces[0].outcome == auth_pb2.LOGIN_OUTCOME_FAILURE


async def test_a_wrapped_unsolicited_assertion_restarts_when_idp_initiated_login_is_on(
    saml_mesh: Mesh, tmp_path: Path
) -> None:
    """Rows 6 and 15 with IdP-initiated login on: the same wrapping is still an unsolicited
    response, so it restarts as an SP-initiated login and opens no session (login CSRF)."""
    connection, domain = await _connection(saml_mesh, tmp_path, "--allow-idp-initiated")
    async with browser() as client:
        request_id, relay_state = await _start(saml_mesh, client, connection)
        forged = _wrapped_unsolicited(connection, request_id, f"eve@{domain}")
        response = await _post(client, connection, SAMLResponse=forged, RelayState=relay_state)
        assert response.status == 303
        assert response.headers["Location"].startswith(f"/sso/saml/{connection['id']}/start?")
        assert not _signed_in(client)
    traces = await login_traces(saml_mesh, connection["account_id"])
    assert traces[0].outcome == auth_pb2.LOGIN_OUTCOME_RESTARTED


@pytest.mark.parametrize(
    "refused",
    ["garbled", "wrong_request_id", "unsigned"],
)
async def test_a_refused_response_leaves_the_pending_login_for_the_genuine_one(
    saml_mesh: Mesh, tmp_path: Path, refused: str
) -> None:
    """A refused POST to the ACS changes nothing but the login trace: the RelayState and the
    request it names stay pending, and the IdP's genuine response then signs the user in."""
    connection, domain = await _connection(saml_mesh, tmp_path)
    email = f"ada@{domain}"
    async with browser() as client:
        request_id, relay_state = await _start(saml_mesh, client, connection)
        bad = {
            "garbled": base64.b64encode(b"<samlp:Response garbled").decode(),
            "wrong_request_id": encode(
                sign(build(_spec(connection, "_" + request_id, email)), IDP_KEYS)
            ),
            "unsigned": encode(build(_spec(connection, request_id, email))),
        }[refused]
        first = await _post(client, connection, SAMLResponse=bad, RelayState=relay_state)
        assert first.status == 403
        genuine = encode(sign(build(_spec(connection, request_id, email)), IDP_KEYS))
        second = await _post(client, connection, SAMLResponse=genuine, RelayState=relay_state)
        assert second.status == 303, await second.text()
        assert second.headers["Location"] == "/me"
        assert _signed_in(client)
        again = await _post(client, connection, SAMLResponse=genuine, RelayState=relay_state)
        assert again.status == 403
    traces = await login_traces(saml_mesh, connection["account_id"])
    assert [t.outcome for t in traces[:3]] == [
        auth_pb2.LOGIN_OUTCOME_FAILURE,
        auth_pb2.LOGIN_OUTCOME_SUCCESS,
        auth_pb2.LOGIN_OUTCOME_FAILURE,
    ]
