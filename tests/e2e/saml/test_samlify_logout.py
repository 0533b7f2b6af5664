"""SAML Single Logout end to end (saml-profiles 4.4): the real gateway, auth and directory
processes against samlify 2.13.1 on 127.0.0.1, driven the way a browser is. The connection is
made from the IdP's metadata URL, whose SingleLogoutService idmesh picks up; samlify reads our
SP metadata (with our SingleLogoutService) from the gateway."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from yarl import URL

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.oidc.helpers import browser, run_idmesh
from tests.e2e.tenants import create_account, unique_name, verify_domain
from tests.idps.saml.logout_requests import logout_request_xml, redirect_url
from tests.idps.saml.responses import KeyPair
from tests.idps.saml.samlify_idp import SamlifyIdp, read_post_form

pytestmark = pytest.mark.e2e


async def _connection(mesh: Mesh, samlify: SamlifyIdp) -> tuple[dict[str, Any], str]:
    name = unique_name("slo")
    account_id = await create_account(mesh, name)
    domain = f"{name}.test"
    await verify_domain(mesh, account_id, domain)
    out = await run_idmesh(
        mesh, "connection", "add-saml", "--account", name, "--metadata", samlify.metadata_url,
        "--domain", domain, "--json",
    )  # fmt: skip
    return json.loads(out)["connection"], domain


async def _signed_in(
    mesh: Mesh, samlify: SamlifyIdp, connection: dict[str, Any], email: str,
    logout: str = "success",
) -> aiohttp.ClientSession:  # fmt: skip
    """A browser signed in through samlify (SP-initiated), the IdP set up for this SP."""
    session = browser()
    async with session.get(connection["saml"]["sp_entity_id"]) as response:
        samlify.configure(await response.text(), email=email, attributes={}, logout=logout)
    start = f"{mesh.gateway_url}/sso/saml/{connection['id']}/start"
    async with session.get(start) as idp_page:
        action, fields = read_post_form(await idp_page.text())
    async with session.post(action, data=fields, allow_redirects=False) as done:
        assert done.status == 303, await done.text()
    assert await _me(mesh, session) == 200
    return session


async def _me(mesh: Mesh, session: aiohttp.ClientSession) -> int:
    async with session.get(f"{mesh.gateway_url}/me", allow_redirects=False) as page:
        return page.status


async def _logout_traces(mesh: Mesh, account_id: str) -> list[auth_pb2.LoginTrace]:
    """The account's logout traces, newest first."""
    async with connect(mesh.address("auth")) as channel:
        listed = await auth_pb2_grpc.AuthServiceStub(channel).ListLoginTraces(
            auth_pb2.ListLoginTracesRequest(account_id=account_id, page_size=50)
        )
    return [t for t in listed.traces if t.kind == "logout"]


def _as_sent(url: str) -> URL:
    """The URL exactly as a browser sends it: the redirect binding's signature covers the
    query's octets, which yarl would otherwise re-encode (%2F → /)."""
    return URL(url, encoded=True)


async def _location(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(_as_sent(url), allow_redirects=False) as response:
        await response.read()
        return response.status, response.headers.get("Location", "")


@pytest.mark.parametrize("answer", ["success", "partial"])
async def test_sign_out_sends_a_signed_logout_request_and_reads_the_idps_answer(
    saml_mesh: Mesh, samlify: SamlifyIdp, answer: str
) -> None:
    """SP-initiated SLO round trip (saml-profiles 4.4.3): /logout ends idmesh's session and
    sends the browser to the IdP's SLO URL with our signed LogoutRequest (samlify verifies the
    signature against our metadata); the IdP's signed LogoutResponse comes back to our SLO URL
    and answers it (InResponseTo, Destination, Issuer, signature): "signed out", or "partial"
    when the IdP reports PartialLogout."""
    connection, domain = await _connection(saml_mesh, samlify)
    assert connection["saml"]["slo_url"] == samlify.slo_url
    assert connection["saml"]["sp_slo_url"].endswith(f"/sso/saml/{connection['id']}/slo")
    async with await _signed_in(
        saml_mesh, samlify, connection, f"ada@{domain}", logout=answer
    ) as session:
        async with session.post(f"{saml_mesh.gateway_url}/logout", allow_redirects=False) as out:
            assert out.status == 303
            request_url = out.headers["Location"]
        assert request_url.startswith(f"{samlify.slo_url}?SAMLRequest=")
        assert {"RelayState", "SigAlg", "Signature"} <= set(parse_qs(urlsplit(request_url).query))
        assert await _me(saml_mesh, session) == 303
        status, answer_url = await _location(session, request_url)
        assert status == 302, answer_url
        assert answer_url.startswith(connection["saml"]["sp_slo_url"] + "?SAMLResponse=")
        async with session.get(_as_sent(answer_url)) as page:
            assert page.status == 200
            text = await page.text()
    assert "You have signed out" in text
    assert ("partial logout" in text) == (answer == "partial")
    answered, sign_out = await _logout_traces(saml_mesh, connection["account_id"])
    assert "signed LogoutRequest" in sign_out.detail
    expected = (
        auth_pb2.LOGIN_OUTCOME_PARTIAL if answer == "partial" else auth_pb2.LOGIN_OUTCOME_SUCCESS
    )
    assert answered.outcome == expected


async def test_an_idp_initiated_logout_request_ends_the_session_and_is_answered_once(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """IdP-initiated SLO (saml-profiles 4.4.4): samlify's signed LogoutRequest for the user's
    NameID and SessionIndex ends the session; we answer with our signed LogoutResponse to the
    IdP's SLO URL. The same request delivered again is refused as replayed."""
    connection, domain = await _connection(saml_mesh, samlify)
    async with await _signed_in(saml_mesh, samlify, connection, f"grace@{domain}") as session:
        status, request_url = await _location(session, f"{samlify.base}/idp-logout")
        assert status == 302
        assert request_url.startswith(connection["saml"]["sp_slo_url"] + "?SAMLRequest=")
        status, answer = await _location(session, request_url)
        assert status == 302
        assert answer.startswith(f"{samlify.slo_url}?SAMLResponse=")
        assert {"SigAlg", "Signature"} <= set(parse_qs(urlsplit(answer).query))
        assert await _me(saml_mesh, session) == 303
        async with session.get(_as_sent(request_url), allow_redirects=False) as replayed:
            assert replayed.status == 400
    refused, ended = await _logout_traces(saml_mesh, connection["account_id"])
    assert ended.outcome == auth_pb2.LOGIN_OUTCOME_SUCCESS
    assert "ended 1 session" in ended.detail
    assert (refused.outcome, refused.reason) == (auth_pb2.LOGIN_OUTCOME_FAILURE, "replayed")


async def test_unsigned_wrongly_signed_and_misdirected_logout_requests_are_refused(
    saml_mesh: Mesh, samlify: SamlifyIdp
) -> None:
    """An IdP-initiated LogoutRequest is held to the login response's strictness (sso-security
    §2): a signature by a pinned certificate is required, and Destination must be our SLO URL.
    Each refusal is a 400, ends nothing, and is traced with its reason."""
    connection, domain = await _connection(saml_mesh, samlify)
    email = f"alan@{domain}"
    slo = connection["saml"]["sp_slo_url"]
    issuer = connection["saml"]["idp_entity_id"]
    genuine = logout_request_xml(issuer=issuer, destination=slo, name_id=email)
    cases = {
        "message_unsigned": redirect_url(slo, genuine, None),
        "signature_invalid": redirect_url(slo, genuine, KeyPair.generate("impostor").key_pem),
        "destination_mismatch": redirect_url(
            slo,
            logout_request_xml(issuer=issuer, destination=f"{slo}/elsewhere", name_id=email),
            samlify.keys.key_pem,
        ),
    }
    async with await _signed_in(saml_mesh, samlify, connection, email) as session:
        for reason, url in cases.items():
            async with aiohttp.ClientSession() as attacker, attacker.get(_as_sent(url)) as response:
                assert response.status == 400, reason
            (trace, *_) = await _logout_traces(saml_mesh, connection["account_id"])
            assert (trace.outcome, trace.reason) == (auth_pb2.LOGIN_OUTCOME_FAILURE, reason)
        assert await _me(saml_mesh, session) == 200
        # The same request, signed by the IdP, is honoured.
        status, _ = await _location(session, redirect_url(slo, genuine, samlify.keys.key_pem))
        assert status == 302
        assert await _me(saml_mesh, session) == 303
