"""SSO connections through auth's gRPC API, on a real PostgreSQL: discovery checked at creation,
client secrets encrypted at rest and never returned, home-realm discovery only for a domain the
account has verified, tenant isolation (brief, issue 4 "OIDC connections"; login trust)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc

from auth.sso.connection_store import secret_associated_data
from idmesh.auth.v1 import auth_pb2
from meshkit.secretbox import Sealed, SecretBox
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import Tenant, verify_domain
from tests.support.directory import Stub, failure, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

TenantFactory = Callable[..., Any]


async def test_a_connection_is_created_with_its_preset_and_its_secret_stays_write_only(
    auth: AuthServiceAsyncStub, tenant: TenantFactory, idp: FakeIdp
) -> None:
    """Vendor presets fill the claim names; the secret is never returned, only the id of the
    key that encrypts it."""
    made: Tenant = await tenant()
    connection = made.connection
    assert connection.name == "okta"
    assert connection.oidc.issuer == idp.issuer
    assert connection.oidc.client_secret == ""
    assert connection.oidc.client_secret_set
    assert len(connection.oidc.client_secret_key_id) == 16
    assert connection.attribute_mapping.groups == "groups"
    got = await auth.GetConnection(
        auth_pb2.GetConnectionRequest(account_id=made.account_id, name="okta")
    )
    assert got.connection.id == connection.id
    assert got.connection.oidc.client_secret == ""
    assert idp.client_secret not in str(got)


async def test_two_connections_of_one_account_never_show_the_same_sign_in_label(
    auth: AuthServiceAsyncStub, tenant: TenantFactory, idp: FakeIdp
) -> None:
    """`/login?account=NAME` once showed two "Sign in with 127.0.0.1" buttons: default labels
    come from the vendor (or the IdP's host) and the connection name, unique in the account,
    and two labels an admin typed alike are told apart by the connection names."""
    made: Tenant = await tenant()
    host = idp.issuer.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]
    for name in ("oidc", "partners"):
        await auth.CreateConnection(
            auth_pb2.CreateConnectionRequest(
                connection=auth_pb2.Connection(
                    account_id=made.account_id,
                    name=name,
                    oidc=auth_pb2.OidcSettings(
                        issuer=idp.issuer, client_id=name, client_secret="s"
                    ),
                )
            )
        )
    await auth.CreateConnection(
        auth_pb2.CreateConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=made.account_id,
                name="okta-eu",
                display_name="Okta",
                oidc=auth_pb2.OidcSettings(issuer=idp.issuer, client_id="eu", client_secret="s"),
            )
        )
    )
    options = await auth.ListLoginOptions(
        auth_pb2.ListLoginOptionsRequest(account_id=made.account_id)
    )
    labels = sorted(o.display_name for o in options.options)
    assert labels == sorted([host, f"{host} (partners)", "Okta (okta)", "Okta (okta-eu)"])


async def test_the_client_secret_is_aes_gcm_ciphertext_bound_to_its_row(
    tenant: TenantFactory, idp: FakeIdp, pool: asyncpg.Pool, secretbox: SecretBox
) -> None:
    """Encrypted at rest with the key from IDMESH_ENCRYPTION_KEY; the key id beside it."""
    made: Tenant = await tenant()
    row = await pool.fetchrow(
        "SELECT oidc_client_secret, oidc_client_secret_key_id FROM auth.connections WHERE id = $1",
        uuid.UUID(made.connection_id),
    )
    assert row is not None
    stored = bytes(row["oidc_client_secret"])
    assert idp.client_secret.encode() not in stored
    assert row["oidc_client_secret_key_id"] == secretbox.current_key_id
    sealed = Sealed(row["oidc_client_secret_key_id"], stored)
    associated = secret_associated_data(uuid.UUID(made.connection_id), uuid.UUID(made.account_id))
    assert secretbox.open(sealed, associated) == idp.client_secret


async def test_a_discovery_document_naming_another_issuer_is_refused_at_creation(
    auth: AuthServiceAsyncStub, directory: Stub, idp: FakeIdp
) -> None:
    """OIDC Discovery §4.3: the issuer in the document must equal the configured one."""
    account = await new_account(directory)
    wrong = idp.issuer.replace("127.0.0.1", "localhost")
    connection = auth_pb2.Connection(
        account_id=account.id,
        oidc=auth_pb2.OidcSettings(
            issuer=wrong,
            discovery_url=idp.issuer + "/.well-known/openid-configuration",
            client_id="c",
            client_secret="s",
        ),
    )
    code, error = await failure(
        auth.CreateConnection(auth_pb2.CreateConnectionRequest(connection=connection))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "discovery_issuer_mismatch"
    unreachable = auth_pb2.Connection(
        account_id=account.id,
        oidc=auth_pb2.OidcSettings(issuer="http://127.0.0.1:9", client_id="c", client_secret="s"),
    )
    code, error = await failure(
        auth.CreateConnection(auth_pb2.CreateConnectionRequest(connection=unreachable))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    skipped = await auth.CreateConnection(
        auth_pb2.CreateConnectionRequest(connection=unreachable, skip_discovery_check=True)
    )
    assert skipped.connection.oidc.issuer == "http://127.0.0.1:9"


async def test_an_email_domain_leads_to_one_connection_across_all_accounts(
    auth: AuthServiceAsyncStub, tenant: TenantFactory
) -> None:
    """Home-realm discovery must be unambiguous: a domain one account has verified cannot be
    served by another account's connection (directory refuses the claim: domain_taken)."""
    first: Tenant = await tenant()
    code, error = await failure(tenant(domain=first.domain.upper()))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "domain_taken"
    found = await auth.DiscoverConnection(
        auth_pb2.DiscoverConnectionRequest(email=f"Someone@{first.domain.upper()}")
    )
    assert found.option.connection_id == first.connection_id
    assert found.option.display_name == "Okta"
    code, _ = await failure(
        auth.DiscoverConnection(auth_pb2.DiscoverConnectionRequest(email="x@unknown.test"))
    )
    assert code == grpc.StatusCode.NOT_FOUND


async def test_an_account_may_have_several_connections_with_distinct_names(
    auth: AuthServiceAsyncStub, directory: Stub, tenant: TenantFactory, idp: FakeIdp
) -> None:
    """Several connections per account: the sign-in page shows a button for each."""
    made: Tenant = await tenant()
    second = auth_pb2.Connection(
        account_id=made.account_id,
        name="contractors",
        display_name="Contractor IdP",
        oidc=auth_pb2.OidcSettings(issuer=idp.issuer, client_id="c2", client_secret="s2"),
    )
    await auth.CreateConnection(auth_pb2.CreateConnectionRequest(connection=second))
    code, error = await failure(
        auth.CreateConnection(auth_pb2.CreateConnectionRequest(connection=second))
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert error.field == "connection.name"
    options = await auth.ListLoginOptions(
        auth_pb2.ListLoginOptionsRequest(account_id=made.account_id)
    )
    assert sorted(o.display_name for o in options.options) == ["Contractor IdP", "Okta"]
    listed = await auth.ListConnections(
        auth_pb2.ListConnectionsRequest(account_id=made.account_id, page_size=1)
    )
    assert len(listed.connections) == 1
    assert listed.next_page_token
    rest = await auth.ListConnections(
        auth_pb2.ListConnectionsRequest(
            account_id=made.account_id, page_size=1, page_token=listed.next_page_token
        )
    )
    assert {listed.connections[0].name, rest.connections[0].name} == {"okta", "contractors"}


async def test_another_account_can_neither_read_nor_delete_a_connection(
    auth: AuthServiceAsyncStub, directory: Stub, tenant: TenantFactory
) -> None:
    """Tenant isolation on every query: another account's id answers NOT_FOUND."""
    made: Tenant = await tenant()
    other = await new_account(directory)
    code, _ = await failure(
        auth.GetConnection(
            auth_pb2.GetConnectionRequest(account_id=other.id, connection_id=made.connection_id)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await failure(
        auth.DeleteConnection(
            auth_pb2.DeleteConnectionRequest(account_id=other.id, connection_id=made.connection_id)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    listed = await auth.ListConnections(auth_pb2.ListConnectionsRequest(account_id=other.id))
    assert list(listed.connections) == []


async def test_discovery_routes_a_domain_only_once_its_account_has_verified_it(
    auth: AuthServiceAsyncStub, directory: Stub, idp: FakeIdp
) -> None:
    """Login trust: a connection's domain is claimed (pending) in directory when it is
    created; until the account verifies it, /login routes nobody there. An attacker's account
    listing the same domain first neither routes it nor blocks the real owner."""
    domain = f"hrd{uuid.uuid4().hex[:8]}.test"

    async def connect(account_id: str) -> str:
        created = await auth.CreateConnection(
            auth_pb2.CreateConnectionRequest(
                connection=auth_pb2.Connection(
                    account_id=account_id, domains=[domain], created_by="tests",
                    oidc=auth_pb2.OidcSettings(
                        issuer=idp.issuer, client_id=idp.client_id,
                        client_secret=idp.client_secret, vendor=auth_pb2.OIDC_VENDOR_OKTA,
                    ),
                ),
                skip_discovery_check=True,
            )
        )  # fmt: skip
        return created.connection.id

    attacker, owner = await new_account(directory), await new_account(directory)
    await connect(attacker.id)
    owners = await connect(owner.id)
    discover = auth_pb2.DiscoverConnectionRequest(email=f"ceo@{domain}")
    code, _ = await failure(auth.DiscoverConnection(discover))
    assert code == grpc.StatusCode.NOT_FOUND
    await verify_domain(directory, owner.id, domain)
    found = await auth.DiscoverConnection(discover)
    assert (found.option.account_id, found.option.connection_id) == (owner.id, owners)


async def test_a_deleted_connection_frees_its_domains_and_stops_discovery(
    auth: AuthServiceAsyncStub, tenant: TenantFactory
) -> None:
    """The domain stays the account's (verified in directory); another connection of the
    account may serve it once the first is gone."""
    made: Tenant = await tenant()
    await auth.DeleteConnection(
        auth_pb2.DeleteConnectionRequest(
            account_id=made.account_id, connection_id=made.connection_id
        )
    )
    code, _ = await failure(
        auth.DiscoverConnection(auth_pb2.DiscoverConnectionRequest(email=f"a@{made.domain}"))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    replacement = auth_pb2.Connection()
    replacement.CopyFrom(made.connection)
    replacement.ClearField("id")
    replacement.oidc.client_secret = "s3cret"
    created = await auth.CreateConnection(
        auth_pb2.CreateConnectionRequest(connection=replacement, skip_discovery_check=True)
    )
    found = await auth.DiscoverConnection(
        auth_pb2.DiscoverConnectionRequest(email=f"a@{made.domain}")
    )
    assert found.option.connection_id == created.connection.id
