"""Realistic data for the console's tests, made fast: users, groups, spaces and memberships
through the directory's RPCs (many at once), SCIM provisioning events in one
RecordProvisioningEvents batch, and login traces written straight into auth's table (only a
sign-in writes them, and a few hundred sign-ins would take minutes)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import duration_pb2, timestamp_pb2

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.api.stack import SYSTEM, Tenant, mint_token

T = TypeVar("T")
GIVEN = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret",
         "Dennis", "Radia", "Tim", "Hedy", "John", "Katherine", "Linus", "Sophie",
         "Guido")  # fmt: skip
FAMILY = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
          "Hamilton", "Ritchie", "Perlman", "Berners-Lee", "Lamarr", "Backus", "Johnson",
          "Torvalds", "Wilson", "van Rossum")  # fmt: skip
TEAMS = ("Engineering", "Platform", "Security", "Finance", "Sales", "Support", "Design",
         "Data", "Marketing", "Legal", "People", "Operations", "Research")  # fmt: skip
REASONS = ("nonce_mismatch", "groups_overage", "email_missing", "state_unknown",
           "invalid_signature", "user_deactivated")  # fmt: skip


@dataclass
class Seeded:
    """What was made, for the tests to find again."""

    tenant: Tenant
    users: list[pb.User] = field(default_factory=list)
    groups: list[pb.Group] = field(default_factory=list)
    connections: list[auth_pb2.Connection] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    token_id: str = ""
    space: pb.Space | None = None


async def _bounded(calls: Sequence[Awaitable[T]], at_once: int = 16) -> list[T]:
    gate = asyncio.Semaphore(at_once)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def certificate(days: int = 20) -> str:
    """A self-signed signing certificate (PEM) that expires in ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


async def users(tenant: Tenant, count: int, *, prefix: str = "") -> list[pb.User]:
    """``count`` users: most provisioned over SCIM (an externalId), one in eleven deactivated,
    one in seven never signed in (pending)."""
    domain = f"{tenant.account.name}.example.com"

    def user(i: int) -> Awaitable[pb.CreateUserResponse]:
        given, family = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
        status = (
            pb.USER_STATUS_DEACTIVATED
            if i % 11 == 10
            else pb.USER_STATUS_PENDING
            if i % 7 == 3
            else pb.USER_STATUS_ACTIVE
        )
        return tenant.stack.directory.CreateUser(
            pb.CreateUserRequest(
                user=pb.User(
                    account_id=tenant.id,
                    user_name=f"{prefix}{given}.{family}{i}@{domain}".lower().replace(" ", ""),
                    external_id=f"00u{i:06d}" if i % 4 else "",
                    display_name=f"{given} {family}",
                    name=pb.Name(given_name=given, family_name=family),
                    emails=[pb.MultiValue(value=f"{given.lower()}{i}@{domain}", primary=True)],
                ),
                initial_status=status,
                actor=SYSTEM,
            )
        )

    made = await _bounded([user(i) for i in range(count)])
    return [m.user for m in made]


async def groups(tenant: Tenant, count: int, members: Sequence[pb.User]) -> list[pb.Group]:
    """``count`` groups (Entra-style object ids as IdP identifiers on every other one), the
    first with SCIM-pushed members and a manual one."""

    def group(i: int) -> Awaitable[pb.CreateGroupResponse]:
        name = f"{TEAMS[i % len(TEAMS)]} {i // len(TEAMS) + 1:02d}"
        identifier = str(uuid.UUID(int=i + 1)) if i % 2 else ""
        return tenant.stack.directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(account_id=tenant.id, display_name=name, idp_identifier=identifier),
                actor=SYSTEM,
            )
        )

    made = [m.group for m in await _bounded([group(i) for i in range(count)])]
    await _bounded(
        [
            tenant.stack.directory.ModifyGroupMembers(
                pb.ModifyGroupMembersRequest(
                    account_id=tenant.id,
                    group_id=made[i].id,
                    add_user_ids=[u.id for u in members[i * 7 : i * 7 + 3 + i % 9]],
                    source=pb.MEMBERSHIP_SOURCE_SCIM,
                    actor=SYSTEM,
                )
            )
            for i in range(1, min(count, 30))
        ]
    )
    first = made[0]
    await tenant.stack.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=tenant.id,
            group_id=first.id,
            add_user_ids=[u.id for u in members[1:40]],
            source=pb.MEMBERSHIP_SOURCE_SCIM,
            actor=SYSTEM,
        )
    )
    await tenant.stack.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=tenant.id,
            group_id=first.id,
            add_user_ids=[members[0].id],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=SYSTEM,
        )
    )
    return made


async def space_roles(tenant: Tenant, group: pb.Group, user: pb.User) -> pb.Space:
    """A space whose Space Developer role ``user`` holds twice: by ``group`` and by hand (the
    console shows both sources)."""
    space = await tenant.space("DevOps")
    role = await tenant.role("Space Developer")
    current = await tenant.stack.directory.GetGroup(
        pb.GetGroupRequest(account_id=tenant.id, group_id=group.id)
    )
    await tenant.stack.directory.SetGroupSpaceRoles(
        pb.SetGroupSpaceRolesRequest(
            account_id=tenant.id,
            group_id=group.id,
            space_roles=[pb.GroupSpaceRole(space_id=space.id, role_id=role.id)],
            expected_version=current.group.version,
            actor=SYSTEM,
        )
    )
    await tenant.stack.directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=tenant.id,
            user_id=user.id,
            space_id=space.id,
            role_id=role.id,
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=SYSTEM,
        )
    )
    return space


async def connections(tenant: Tenant, public_url: str) -> list[auth_pb2.Connection]:
    """An Entra OIDC connection and an Okta SAML connection whose certificate expires soon."""
    oidc = await tenant.stack.auth.CreateConnection(
        auth_pb2.CreateConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=tenant.id,
                name="entra",
                display_name="Microsoft Entra ID",
                enabled=True,
                oidc=auth_pb2.OidcSettings(
                    issuer="https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
                    client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
                    client_secret="entra-secret",
                    vendor=auth_pb2.OIDC_VENDOR_AZURE_AD,
                    entra_tenant_id="9188040d-6c67-4c5b-b112-36a304b66dad",
                ),
            ),
            skip_discovery_check=True,
        )
    )
    saml = await tenant.stack.auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=tenant.id,
                name="okta-saml",
                display_name="Okta",
                enabled=True,
                saml=auth_pb2.SamlSettings(
                    vendor=auth_pb2.SAML_VENDOR_OKTA,
                    idp_entity_id="http://www.okta.com/exk1abcd",
                    sso_url="https://acme.okta.com/app/acme_idmesh/exk1abcd/sso/saml",
                    certificates=[certificate(days=20)],
                ),
            ),
            public_url=public_url,
        )
    )
    return [oidc.connection, saml.connection]


async def traces(
    database_url: str,
    tenant: Tenant,
    connection_ids: Sequence[str],
    who: Sequence[pb.User],
    count: int,
) -> list[str]:
    """``count`` login traces over the last days, one in four a failure with a reason."""
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        user = who[i % len(who)]
        failed = i % 4 == 0
        claims = {
            "iss": "https://login.microsoftonline.com/9188040d/v2.0",
            "sub": f"sub-{i}",
            "email": user.user_name,
            "groups": [str(uuid.UUID(int=1)), str(uuid.UUID(int=3))],
            "nonce": "[redacted]",
        }
        rows.append(
            (
                uuid.UUID(tenant.id),
                None if failed else uuid.UUID(user.id),
                uuid.uuid4(),
                uuid.UUID(connection_ids[i % len(connection_ids)]),
                uuid.uuid4().hex,
                "id_token" if failed else "session",
                "failure" if failed else "success",
                REASONS[i % len(REASONS)] if failed else "",
                "the ID token's nonce is not this login's" if failed else "",
                f"sub-{i}",
                user.user_name,
                json.dumps(claims),
                claims["groups"],
                1.5,
                120.0 + i % 50,
                now - timedelta(minutes=17 * i),
            )
        )
    connection = await asyncpg.connect(database_url)
    try:
        await connection.executemany(
            "INSERT INTO auth.login_traces (account_id, user_id, id, connection_id, trace_id,"
            " stage, outcome, reason, detail, subject, email, claims, groups,"
            " clock_delta_seconds, duration_ms, time)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15,"
            " $16)",
            rows,
        )
        # Who signed in and when (only a sign-in sets it): the traces' successes.
        await connection.execute(
            "UPDATE directory.users SET last_login_time = now() - (random() * interval '9 days')"
            " WHERE account_id = $1 AND status = 'active'",
            uuid.UUID(tenant.id),
        )
    finally:
        await connection.close()
    return [str(row[2]) for row in rows]


async def events(
    tenant: Tenant,
    token_id: str,
    touched: Sequence[pb.User],
    grouped: Sequence[pb.Group],
    count: int,
) -> list[str]:
    """``count`` SCIM requests (creates, patches, a few rejected and failed) in one batch."""
    now = datetime.now(UTC)
    made = []
    for i in range(count):
        is_group = bool(grouped) and i % 5 == 0
        resource = grouped[i % len(grouped)].id if is_group else touched[i % len(touched)].id
        outcome, status = (
            (pb.PROVISIONING_OUTCOME_REJECTED, 400)
            if i % 13 == 0
            else (pb.PROVISIONING_OUTCOME_FAILED, 503)
            if i % 47 == 0
            else (pb.PROVISIONING_OUTCOME_SUCCESS, 200 if i % 2 else 201)
        )
        made.append(
            pb.ProvisioningEvent(
                id=str(uuid.uuid4()),
                account_id=tenant.id,
                time=_stamp(now - timedelta(minutes=7 * i)),
                token_id=token_id,
                method="PATCH" if i % 2 else "POST",
                operation="update" if i % 2 else "create",
                resource_type="Group" if is_group else "User",
                resource_id=resource,
                outcome=outcome,
                http_status=status,
                duration=duration_pb2.Duration(nanos=(3 + i % 40) * 1_000_000),
                detail="userName is required" if status == 400 else "",
                trace_id=uuid.uuid4().hex,
            )
        )
    await tenant.stack.directory.RecordProvisioningEvents(
        pb.RecordProvisioningEventsRequest(events=made)
    )
    return [e.id for e in made]


async def scim_token(tenant: Tenant) -> str:
    """A described SCIM token (as an admin would make for Entra) and its id."""
    made = await tenant.stack.auth.CreateApiToken(
        auth_pb2.CreateApiTokenRequest(
            account_id=tenant.id,
            description="Entra provisioning",
            permissions=["users:manage", "groups:manage"],
            created_by="tests",
            expire_time=_stamp(datetime.now(UTC) + timedelta(days=10)),
        )
    )
    return str(made.token.id)


async def account(
    tenant: Tenant,
    database_url: str,
    public_url: str,
    *,
    users_count: int,
    groups_count: int,
    traces_count: int,
    events_count: int,
) -> Seeded:
    """A whole account's worth of data in ``tenant``."""
    seeded = Seeded(tenant)
    seeded.users = await users(tenant, users_count)
    seeded.groups = await groups(tenant, groups_count, seeded.users)
    seeded.space = await space_roles(tenant, seeded.groups[0], seeded.users[1])
    seeded.connections = await connections(tenant, public_url)
    # The active users signed in with Entra once: their identity links.
    await _bounded(
        [
            tenant.stack.directory.LinkIdentity(
                pb.LinkIdentityRequest(
                    link=pb.IdentityLink(
                        account_id=tenant.id,
                        user_id=user.id,
                        connection_id=seeded.connections[0].id,
                        subject=f"AAAAAAAAAAAAAAAAAAAAAPj{i:04d}kU",
                    ),
                    actor=SYSTEM,
                )
            )
            for i, user in enumerate(seeded.users)
            if user.status == pb.USER_STATUS_ACTIVE
        ]
    )
    await tenant.stack.directory.ClaimDomain(
        pb.ClaimDomainRequest(
            account_id=tenant.id, domain=f"{tenant.account.name}.example.com", actor=SYSTEM
        )
    )
    seeded.token_id = await scim_token(tenant)
    seeded.trace_ids = await traces(
        database_url, tenant, [c.id for c in seeded.connections], seeded.users, traces_count
    )
    seeded.event_ids = await events(
        tenant, seeded.token_id, seeded.users, seeded.groups, events_count
    )
    return seeded


__all__ = ["Seeded", "account", "mint_token"]
