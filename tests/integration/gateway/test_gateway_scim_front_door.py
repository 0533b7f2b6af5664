"""The /scim/v2 front door: authentication before routing, path normalisation, content types
and RFC 7644 §3.12 error bodies for the failures the gateway itself detects."""

from __future__ import annotations

import json

import pytest
from yarl import URL

from idmesh.scim.v1 import scim_pb2
from tests.support.gateway_peers import (
    ACME_AUDITOR_SECRET,
    ACME_ID,
    ACME_SECRET,
    FakeMesh,
    GatewayFactory,
)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
BEARER = {"Authorization": f"Bearer {ACME_SECRET}"}


@pytest.fixture(autouse=True)
def _fresh_scim(mesh: FakeMesh) -> None:
    mesh.scim.requests.clear()
    mesh.scim.response = scim_pb2.HandleRequestResponse(status=200, body=b"{}")


async def _scim_error(response: object) -> dict[str, object]:
    body: dict[str, object] = json.loads(await response.text())  # type: ignore[attr-defined]
    assert response.content_type == "application/scim+json"  # type: ignore[attr-defined]
    assert body["schemas"] == [ERROR_SCHEMA]
    return body


@pytest.mark.parametrize(
    "path",
    ["/scim/v2/Users", "/scim/v2/%55sers", "/scim/v2//Users/", "/scim/v2", "/scim/v2/x/%2e%2e"],
)
async def test_every_spelling_of_a_scim_path_needs_the_token(
    gateway: GatewayFactory, mesh: FakeMesh, path: str
) -> None:
    """docs/scim-clients.md §1 and §7 (Zitadel CVE-2026-32130): authenticate everything
    under /scim/v2 before routing, so a percent-encoded path cannot slip past the check."""
    async with gateway() as client:
        response = await client.get(path)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await _scim_error(response)
        assert body["status"] == "401"
    assert mesh.scim.requests == []


async def test_a_token_without_users_manage_is_forbidden(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """Issue 3: 403 for a token without users:manage."""
    async with gateway() as client:
        response = await client.get(
            "/scim/v2/Users", headers={"Authorization": f"Bearer {ACME_AUDITOR_SECRET}"}
        )
        assert response.status == 403
        assert (await _scim_error(response))["status"] == "403"
    assert mesh.scim.requests == []


async def test_the_forwarded_request_is_decoded_normalised_and_scoped_to_the_token_account(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """The token names the account; the path arrives decoded, without empty segments."""
    async with gateway() as client:
        response = await client.get(
            "/scim/v2//%55sers/?filter=userName%20eq%20%22a%40b.c%22&aadOptscim062020",
            headers=BEARER,
        )
        assert response.status == 200
    [forwarded] = mesh.scim.requests
    assert forwarded.account_id == ACME_ID
    assert forwarded.path == "/Users"
    assert forwarded.method == "GET"
    assert {(q.name, q.value) for q in forwarded.query} == {
        ("filter", 'userName eq "a@b.c"'),
        ("aadOptscim062020", ""),
    }
    assert forwarded.base_url.endswith("/scim/v2")


async def test_dot_segments_are_not_resolved_but_refused(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """A percent-encoded ".." is refused, not resolved to another resource (RFC 3986 §6.2.2
    normalisation is for URIs we trust, not for a path to authorise)."""
    async with gateway() as client:
        # encoded=True: sent as written; the client would otherwise resolve the dots itself.
        base = f"http://{client.host}:{client.port}"
        raw = URL(f"{base}/scim/v2/Users/%2e%2e/Groups", encoded=True)
        response = await client.session.get(raw, headers=BEARER)
        assert response.status == 404
        assert (await _scim_error(response))["status"] == "404"
    assert mesh.scim.requests == []


@pytest.mark.parametrize("content_type", ["application/scim+json", "application/json"])
async def test_scim_and_plain_json_bodies_are_accepted(
    gateway: GatewayFactory, mesh: FakeMesh, content_type: str
) -> None:
    """RFC 7644 §3.1 and Okta's SPEC test, which posts application/json."""
    async with gateway() as client:
        response = await client.post(
            "/scim/v2/Users",
            data=b'{"userName": "a@b.c"}',
            headers={**BEARER, "Content-Type": content_type},
        )
        assert response.status == 200
    assert mesh.scim.requests[0].body == b'{"userName": "a@b.c"}'


async def test_another_body_format_is_415(gateway: GatewayFactory, mesh: FakeMesh) -> None:
    """Issue 3: 415 for a wrong content type, with a SCIM error body."""
    async with gateway() as client:
        response = await client.post(
            "/scim/v2/Users", data=b"<user/>", headers={**BEARER, "Content-Type": "text/xml"}
        )
        assert response.status == 415
        assert (await _scim_error(response))["status"] == "415"
    assert mesh.scim.requests == []


async def test_a_body_over_the_limit_is_413_with_a_scim_body(gateway: GatewayFactory) -> None:
    """Issue 3: 413 over the advertised maximum body size (1 MiB)."""
    async with gateway() as client:
        response = await client.post(
            "/scim/v2/Users",
            data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
            headers={**BEARER, "Content-Type": "application/scim+json"},
        )
        assert response.status == 413
        assert (await _scim_error(response))["status"] == "413"


async def test_status_body_etag_and_location_are_relayed(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """RFC 7644 §3.3: 201 with Location; §3.14: the ETag header."""
    mesh.scim.response = scim_pb2.HandleRequestResponse(
        status=201, body=b'{"id": "u1"}', etag='W/"1"', location="http://x/scim/v2/Users/u1"
    )
    async with gateway() as client:
        response = await client.post(
            "/scim/v2/Users",
            data=b"{}",
            headers={**BEARER, "Content-Type": "application/scim+json"},
        )
        assert response.status == 201
        assert response.headers["ETag"] == 'W/"1"'
        assert response.headers["Location"] == "http://x/scim/v2/Users/u1"
        assert response.content_type == "application/scim+json"
        assert await response.json(content_type=None) == {"id": "u1"}


async def test_a_503_the_scim_service_answers_itself_gains_retry_after(
    gateway: GatewayFactory, mesh: FakeMesh
) -> None:
    """The scim service answers its own SCIM 503 when directory is down; relayed as it is, it
    still tells the client when to come back (RFC 9110 §10.2.3), like every 503 of the gateway."""
    unavailable = b'{"status": "503", "detail": "a dependency is unavailable, retry later"}'
    mesh.scim.response = scim_pb2.HandleRequestResponse(status=503, body=unavailable)
    async with gateway() as client:
        response = await client.get("/scim/v2/Users", headers=BEARER)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert await response.read() == unavailable
