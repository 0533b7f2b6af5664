"""Replay across two auth servicer instances (two real gRPC servers, each with its own pool, one
database): the second use of a captured response fails on the other replica too
(sso-security.md §2 row 8; Keycloak CVE-2026-18967), and changes no user."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest

from auth.app import build_app
from auth.sso.servicer import SsoSettings
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import ResponseSpec, build, encode, sign
from tests.integration.sso.harness import last_trace, verify_domain
from tests.integration.sso.test_saml_through_the_gateway import IDP, IDP_KEYS
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def second_auth(
    database_url: str, directory_address: str, secretbox: SecretBox
) -> AsyncIterator[AuthServiceAsyncStub]:
    """Another auth replica: its own process-level state and pool, the same database."""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    settings = SsoSettings(secretbox=secretbox, directory_addr=directory_address)
    server = GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)
    app = build_app(pool, host="127.0.0.1", port=0, server=server, sso=settings)
    port = await app.start()
    channel = connect(f"127.0.0.1:{port}")
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()
    await app.stop()
    await pool.close()


async def test_a_response_accepted_by_one_auth_replica_is_refused_by_the_other(
    auth: AuthServiceAsyncStub,
    second_auth: AuthServiceAsyncStub,
    directory: Stub,
    gateway_url: str,
) -> None:
    """Row 8 across replicas, with IdP-initiated login on (the case without a transaction)."""
    account = await new_account(directory)
    domain = f"r{uuid.uuid4().hex[:10]}.test"
    await verify_domain(directory, account.id, domain)
    created = await auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=account.id,
                domains=[domain],
                saml=auth_pb2.SamlSettings(
                    metadata_xml=idp_metadata(IDP, IDP_KEYS), allow_idp_initiated=True
                ),
            ),
            public_url=gateway_url,
        )
    )
    connection = created.connection
    spec = ResponseSpec(
        acs_url=connection.saml.acs_url,
        audience=connection.saml.sp_entity_id,
        issuer=IDP,
        request_id=None,
        name_id=f"ada@{domain}",
        attributes={"email": [f"ada@{domain}"]},
    )
    request = auth_pb2.FinishSamlLoginRequest(
        connection_id=connection.id, saml_response=encode(sign(build(spec), IDP_KEYS))
    )
    first = await auth.FinishSamlLogin(request)
    assert first.restart
    assert not first.session_secret
    users = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=account.id))
    for replica in (second_auth, auth):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await replica.FinishSamlLogin(request)
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert (await last_trace(auth, account.id)).reason == "replayed"
    after = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=account.id))
    assert after.users == users.users
