"""SSO in-process: the real directory, the real auth (with an encryption key) and the real
gateway, each as production wires it, over the session's PostgreSQL, signing users in through a
small in-process OpenID Provider the tests control (tests/idps/oidc/fake_idp.py).

Tracing: every span of the process goes to one in-memory exporter, so a test sees the gateway,
auth and directory spans of one login together.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from auth.app import build_app
from auth.sso.servicer import SsoSettings
from directory.app import build_server
from gateway.app import create_app
from gateway.clients import Clients
from gateway.config import load_gateway_config
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2_grpc
from infra.dev.mesh import free_port
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox, new_key, parse_key
from meshkit.server import GrpcServer
from meshkit.telemetry import setup_tracing
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import Tenant, verify_domain
from tests.support.directory import Stub, new_account
from tests.support.gateway_peers import unused_address

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

# Short, so the rate-limited JWKS refetch can be exercised without long waits.
JWKS_MIN_REFETCH_SECONDS = 2.0
ENCRYPTION_KEY = new_key()


def _server() -> GrpcServer:
    return GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span finished in this process (the provider is installed once per process)."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider = setup_tracing("sso-tests", processor=processor)
    with provider.get_tracer("probe").start_as_current_span("probe"):
        pass
    if not exporter.get_finished_spans():
        provider.add_span_processor(processor)
    exporter.clear()
    return exporter


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=10)
    yield created
    await created.close()


@pytest.fixture(scope="module")
async def directory_address(pool: asyncpg.Pool) -> AsyncIterator[str]:
    secretbox = SecretBox(parse_key(ENCRYPTION_KEY))
    server = build_server(pool, host="127.0.0.1", port=0, secretbox=secretbox, server=_server())
    port = await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop()


@pytest.fixture(scope="module")
async def directory(directory_address: str) -> AsyncIterator[Stub]:
    channel = connect(directory_address)
    yield directory_pb2_grpc.DirectoryServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="module")
def secretbox() -> SecretBox:
    return SecretBox(parse_key(ENCRYPTION_KEY))


@pytest.fixture(scope="module")
async def auth_address(
    pool: asyncpg.Pool, directory_address: str, secretbox: SecretBox, spans: InMemorySpanExporter
) -> AsyncIterator[str]:
    settings = SsoSettings(
        secretbox=secretbox,
        directory_addr=directory_address,
        jwks_min_refetch_seconds=JWKS_MIN_REFETCH_SECONDS,
        idp_timeout_seconds=5.0,
    )
    app = build_app(pool, host="127.0.0.1", port=0, server=_server(), sso=settings)
    port = await app.start()
    yield f"127.0.0.1:{port}"
    await app.stop()


@pytest.fixture(scope="module")
async def auth(auth_address: str) -> AsyncIterator[AuthServiceAsyncStub]:
    channel = connect(auth_address)
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="module")
async def idp() -> AsyncIterator[FakeIdp]:
    provider = FakeIdp()
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture(autouse=True)
def _well_behaved_idp(request: pytest.FixtureRequest) -> None:
    """Each test starts with an IdP that behaves (tests that break it do so themselves)."""
    if "idp" in request.fixturenames:
        request.getfixturevalue("idp").reset()


@pytest.fixture(scope="module")
async def gateway_url(
    directory_address: str, auth_address: str, spans: InMemorySpanExporter
) -> AsyncIterator[str]:
    """The production gateway app on a free port, PUBLIC_URL pointing at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = load_gateway_config({"PORT": str(port), "PUBLIC_URL": url})
    clients = Clients.connect(
        directory_addr=directory_address, auth_addr=auth_address, scim_addr=unused_address()
    )
    server = TestServer(create_app(config, clients), host="127.0.0.1", port=port)
    await server.start_server(access_log=None)
    yield url
    await server.close()
    await clients.close()


@pytest.fixture
def tenant(directory: Stub, auth: AuthServiceAsyncStub, idp: FakeIdp) -> Callable[..., Any]:
    """``await tenant(**connection_fields)``: a new account with a connection to the fake IdP
    serving a fresh email domain."""

    async def make(**fields: Any) -> Tenant:
        account = await new_account(directory)
        domain = fields.pop("domain", f"t{uuid.uuid4().hex[:10]}.test")
        await verify_domain(directory, account.id, domain)
        idp.email_domain = domain
        oidc = auth_pb2.OidcSettings(
            issuer=idp.issuer,
            client_id=idp.client_id,
            client_secret=idp.client_secret,
            vendor=fields.pop("vendor", auth_pb2.OIDC_VENDOR_OKTA),
            **fields.pop("oidc", {}),
        )
        connection = auth_pb2.Connection(
            account_id=account.id, domains=[domain], oidc=oidc, created_by="tests", **fields
        )
        created = await auth.CreateConnection(
            auth_pb2.CreateConnectionRequest(connection=connection)
        )
        return Tenant(account.id, account.name, created.connection, domain)

    return make
