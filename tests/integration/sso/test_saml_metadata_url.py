"""IdP metadata by URL (issue 5, optional item): auth fetches it at creation and a scheduled
refresh follows the IdP's certificate rollover without downtime; a refresh that names another
entity id or fails changes nothing (auth.sso.saml.metadata_refresh)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from auth.sso.connection_store import ConnectionStore
from auth.sso.http import IdpHttp
from auth.sso.saml.metadata_refresh import refresh_all
from idmesh.auth.v1 import auth_pb2
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair
from tests.integration.sso.test_saml_through_the_gateway import IDP
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = pytest.mark.integration

OLD = KeyPair.generate("idp old")
NEW = KeyPair.generate("idp new")


class MetadataServer:
    def __init__(self) -> None:
        self.body = idp_metadata(IDP, OLD)
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(text=self.body, status=self.status, content_type="application/xml")


@pytest.fixture
async def metadata_server() -> AsyncIterator[tuple[MetadataServer, str]]:
    served = MetadataServer()
    app = web.Application()
    app.router.add_get("/metadata", served.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield served, str(server.make_url("/metadata"))
    await server.close()


def _der_bodies(*keys: KeyPair) -> list[str]:
    return ["".join(k.cert_pem.splitlines()[1:-1]) for k in keys]


async def test_certificates_follow_the_idp_metadata_url(
    auth: AuthServiceAsyncStub,
    directory: Stub,
    gateway_url: str,
    pool: asyncpg.Pool,
    metadata_server: tuple[MetadataServer, str],
) -> None:
    """Created from the URL, then refreshed: the IdP adds its next certificate, later drops the
    old one; a failing URL or another entity id leaves the certificates alone."""
    served, url = metadata_server
    account = await new_account(directory)
    created = await auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=account.id,
                domains=[f"m{uuid.uuid4().hex[:10]}.test"],
                saml=auth_pb2.SamlSettings(metadata_url=url),
            ),
            public_url=gateway_url,
        )
    )
    connection_id = uuid.UUID(created.connection.id)
    assert created.connection.saml.metadata_url == url
    assert list(created.connection.saml.certificates) == _der_bodies(OLD)
    store = ConnectionStore(pool)
    http = IdpHttp(timeout=5.0)
    try:
        served.body = idp_metadata(IDP, OLD, NEW)
        assert await refresh_all(store, http) >= 1
        found = await store.for_login(connection_id)
        assert found is not None
        assert found.saml is not None
        assert list(found.saml.certificates) == _der_bodies(OLD, NEW)
        served.body = idp_metadata(IDP, NEW)
        await refresh_all(store, http)
        found = await store.for_login(connection_id)
        assert found is not None
        assert found.saml is not None
        assert list(found.saml.certificates) == _der_bodies(NEW)
        served.status = 500
        await refresh_all(store, http)
        served.status = 200
        served.body = idp_metadata(IDP, OLD).replace("https://idp.acme.test", "https://evil.test")
        await refresh_all(store, http)
        found = await store.for_login(connection_id)
        assert found is not None
        assert found.saml is not None
        assert list(found.saml.certificates) == _der_bodies(NEW)
    finally:
        await http.close()
