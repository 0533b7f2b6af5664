"""Connections and their email domains: the SQL on schema auth, nothing else.

Every admin query is scoped by account_id. The login path reads a connection by its id alone:
the id is the public handle in the callback URL, and the account comes from the row.
"""

from __future__ import annotations

import json
import uuid
from typing import Final

import asyncpg

from auth.sso.connections import ConnectionChange, ConnectionDraft
from auth.sso.models import AttributeMapping, Connection, OidcConfig, SamlConfig
from auth.sso.paging import Cursor
from meshkit.errors import AlreadyExists, FailedPrecondition, NotFound
from meshkit.secretbox import Sealed

_COLUMNS: Final = """
c.id, c.account_id, c.name, c.display_name, c.protocol, c.attribute_mapping,
c.provisioning_policy, c.profile_update, c.default_space, c.default_space_role, c.enabled,
c.created_by, c.oidc_issuer, c.oidc_discovery_url, c.oidc_client_id, c.oidc_client_secret,
c.oidc_client_secret_key_id, c.oidc_scopes, c.oidc_vendor, c.oidc_entra_tenant_id,
c.oidc_allowed_tenant_ids, c.oidc_signing_algorithms, c.oidc_userinfo, c.oidc_rp_logout,
c.saml_slo_url, c.create_time,
c.update_time, c.version,
c.saml_idp_entity_id, c.saml_sso_url, c.saml_certificates, c.saml_vendor, c.saml_name_id_format,
c.saml_sp_entity_id, c.saml_acs_url, c.saml_want_response_signed, c.saml_allow_sha1,
c.saml_allow_idp_initiated, c.saml_clock_skew_seconds, c.saml_sp_certificate,
c.saml_sp_private_key, c.saml_sp_private_key_key_id, c.saml_metadata_url,
ARRAY(SELECT d.domain FROM auth.connection_domains d WHERE d.connection_id = c.id
      ORDER BY d.domain) AS domains
"""
_SELECT: Final = f"SELECT {_COLUMNS} FROM auth.connections c"  # noqa: S608 - constants

_INSERT: Final = """
INSERT INTO auth.connections (id, account_id, name, display_name, protocol, attribute_mapping,
    provisioning_policy, profile_update, default_space, default_space_role, created_by,
    oidc_issuer, oidc_discovery_url, oidc_client_id, oidc_client_secret,
    oidc_client_secret_key_id, oidc_scopes, oidc_vendor, oidc_entra_tenant_id,
    oidc_allowed_tenant_ids, oidc_signing_algorithms, oidc_userinfo, oidc_rp_logout, enabled)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
    $19, $20, $21, $22, $23, $24)
"""
_INSERT_SAML: Final = """
INSERT INTO auth.connections (id, account_id, name, display_name, protocol, attribute_mapping,
    provisioning_policy, profile_update, default_space, default_space_role, created_by,
    saml_idp_entity_id, saml_sso_url, saml_certificates, saml_vendor, saml_name_id_format,
    saml_sp_entity_id, saml_acs_url, saml_want_response_signed, saml_allow_sha1,
    saml_allow_idp_initiated, saml_clock_skew_seconds, saml_sp_certificate, saml_sp_private_key,
    saml_sp_private_key_key_id, saml_metadata_url, saml_slo_url, enabled)
VALUES ($1, $2, $3, $4, 'saml', $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
"""
_INSERT_DOMAINS: Final = """
INSERT INTO auth.connection_domains (domain, connection_id, account_id)
SELECT domain, $2, $3 FROM unnest($1::text[]) AS d(domain)
"""
# Within the account: one connection serves a domain (home-realm discovery leads to one).
_TAKEN_DOMAINS: Final = """
SELECT domain FROM auth.connection_domains
WHERE account_id = $2 AND domain = ANY($1::text[]) ORDER BY domain
"""
_BY_ID: Final = _SELECT + " WHERE c.account_id = $1 AND c.id = $2"
_BY_NAME: Final = _SELECT + " WHERE c.account_id = $1 AND c.name = $2"
_FOR_LOGIN: Final = _SELECT + " WHERE c.id = $1"
_BY_DOMAIN: Final = (
    _SELECT + " JOIN auth.connection_domains x ON x.connection_id = c.id"
    " WHERE x.account_id = $1 AND x.domain = $2"
)
_LIST_FIRST: Final = _SELECT + " WHERE c.account_id = $1 ORDER BY c.create_time, c.id LIMIT $2"
_LIST_AFTER: Final = (
    _SELECT + " WHERE c.account_id = $1 AND (c.create_time, c.id) > ($3, $4)"
    " ORDER BY c.create_time, c.id LIMIT $2"
)
_ENABLED: Final = (
    _SELECT + " WHERE c.account_id = $1 AND c.enabled ORDER BY lower(c.display_name), c.id"
)
_SAML_REFRESHABLE: Final = (
    _SELECT + " WHERE c.protocol = 'saml' AND c.saml_metadata_url IS NOT NULL ORDER BY c.id"
)
# The certificates, SSO URL and SLO URL follow the metadata; the entity id never changes this
# way.
_SAML_REFRESH: Final = """
UPDATE auth.connections SET saml_certificates = $3, saml_sso_url = $4, saml_slo_url = $5,
    update_time = now(), version = version + 1
WHERE id = $1 AND saml_idp_entity_id = $2
  AND (saml_certificates IS DISTINCT FROM $3 OR saml_sso_url IS DISTINCT FROM $4
       OR saml_slo_url IS DISTINCT FROM $5)
RETURNING id
"""
_DELETE: Final = "DELETE FROM auth.connections WHERE account_id = $1 AND id = $2 RETURNING id"
_VERSION: Final = (
    "SELECT version FROM auth.connections WHERE account_id = $1 AND id = $2 FOR UPDATE"
)
_UPDATE: Final = """
UPDATE auth.connections SET display_name = $3, enabled = $4, provisioning_policy = $5,
    default_space = $6, default_space_role = $7, profile_update = coalesce($8, profile_update),
    oidc_rp_logout = coalesce($9, oidc_rp_logout),
    update_time = now(), version = version + 1
WHERE account_id = $1 AND id = $2
"""
_TAKEN_BY_OTHERS: Final = """
SELECT domain FROM auth.connection_domains
WHERE account_id = $3 AND domain = ANY($1::text[]) AND connection_id <> $2 ORDER BY domain
"""
_DROP_DOMAINS: Final = "DELETE FROM auth.connection_domains WHERE connection_id = $1"


def connection_from_row(row: asyncpg.Record) -> Connection:
    oidc = None
    if row["protocol"] == "oidc":
        oidc = OidcConfig(
            issuer=row["oidc_issuer"],
            discovery_url=row["oidc_discovery_url"],
            client_id=row["oidc_client_id"],
            scopes=tuple(row["oidc_scopes"]),
            vendor=row["oidc_vendor"],
            entra_tenant_id=row["oidc_entra_tenant_id"] or "",
            allowed_tenant_ids=tuple(row["oidc_allowed_tenant_ids"] or ()),
            signing_algorithms=tuple(row["oidc_signing_algorithms"]),
            client_secret=Sealed(
                row["oidc_client_secret_key_id"], bytes(row["oidc_client_secret"])
            ),
            userinfo=row["oidc_userinfo"],
            rp_logout=row["oidc_rp_logout"],
        )
    saml = None
    if row["protocol"] == "saml":
        sealed = None
        if row["saml_sp_private_key"] is not None:
            sealed = Sealed(row["saml_sp_private_key_key_id"], bytes(row["saml_sp_private_key"]))
        saml = SamlConfig(
            idp_entity_id=row["saml_idp_entity_id"],
            sso_url=row["saml_sso_url"],
            certificates=tuple(row["saml_certificates"]),
            sp_entity_id=row["saml_sp_entity_id"],
            acs_url=row["saml_acs_url"],
            vendor=row["saml_vendor"],
            name_id_format=row["saml_name_id_format"],
            want_response_signed=row["saml_want_response_signed"],
            allow_sha1=row["saml_allow_sha1"],
            allow_idp_initiated=row["saml_allow_idp_initiated"],
            clock_skew_seconds=row["saml_clock_skew_seconds"],
            sp_certificate=row["saml_sp_certificate"] or "",
            metadata_url=row["saml_metadata_url"] or "",
            slo_url=row["saml_slo_url"],
            sealed_sp_key=sealed,
        )
    return Connection(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        display_name=row["display_name"],
        protocol=row["protocol"],
        domains=tuple(row["domains"]),
        mapping=AttributeMapping(**json.loads(row["attribute_mapping"])),
        provisioning_policy=row["provisioning_policy"],
        profile_update=row["profile_update"],
        default_space=row["default_space"],
        default_space_role=row["default_space_role"],
        enabled=row["enabled"],
        created_by=row["created_by"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        version=row["version"],
        oidc=oidc,
        saml=saml,
    )


def secret_associated_data(connection_id: uuid.UUID, account_id: uuid.UUID) -> bytes:
    """What a client secret's ciphertext is bound to: its row (secretbox)."""
    return f"idmesh connection client_secret|{account_id}|{connection_id}".encode()


class ConnectionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(
        self, draft: ConnectionDraft, secret: Sealed, *, enabled: bool = True
    ) -> Connection:
        """Stores the connection and its domains, in one transaction. A name taken in the
        account, or a domain another connection of the account serves, is ALREADY_EXISTS."""
        oidc = draft.oidc
        mapping = json.dumps(draft.mapping.__dict__)
        async with self._pool.acquire() as conn, conn.transaction():
            taken = await conn.fetch(_TAKEN_DOMAINS, list(draft.domains), draft.account_id)
            if taken:
                raise AlreadyExists(
                    "another connection already serves "
                    + ", ".join(row["domain"] for row in taken)
                    + ": home-realm discovery must lead to one connection",
                    field="connection.domains",
                    reason="domain_taken",
                )
            try:
                await conn.execute(
                    _INSERT,
                    draft.id,
                    draft.account_id,
                    draft.name,
                    draft.display_name,
                    draft.protocol,
                    mapping,
                    draft.provisioning_policy,
                    draft.profile_update,
                    draft.default_space,
                    draft.default_space_role,
                    draft.created_by,
                    oidc.issuer,
                    oidc.discovery_url,
                    oidc.client_id,
                    secret.ciphertext,
                    secret.key_id,
                    list(oidc.scopes),
                    oidc.vendor,
                    oidc.entra_tenant_id,
                    list(oidc.allowed_tenant_ids),
                    list(oidc.signing_algorithms),
                    oidc.userinfo,
                    oidc.rp_logout,
                    enabled,
                )
                await conn.execute(_INSERT_DOMAINS, list(draft.domains), draft.id, draft.account_id)
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name == "connections_name_key":
                    raise AlreadyExists(
                        f"the account already has a connection named {draft.name!r}",
                        field="connection.name",
                        reason="uniqueness",
                    ) from None
                # A concurrent creation claimed one of the domains after our check.
                raise AlreadyExists(
                    "another connection already serves one of these domains",
                    field="connection.domains",
                    reason="domain_taken",
                ) from None
            row = await conn.fetchrow(_FOR_LOGIN, draft.id)
        assert row is not None
        return connection_from_row(row)

    async def insert_saml(self, connection: Connection, sp_key: Sealed | None) -> Connection:
        """Stores a SAML connection and claims its domains, in one transaction (the same
        uniqueness rules as ``insert``)."""
        saml = connection.saml
        assert saml is not None
        mapping = json.dumps(connection.mapping.__dict__)
        async with self._pool.acquire() as conn, conn.transaction():
            taken = await conn.fetch(
                _TAKEN_DOMAINS, list(connection.domains), connection.account_id
            )
            if taken:
                raise AlreadyExists(
                    "another connection already serves "
                    + ", ".join(row["domain"] for row in taken),
                    field="connection.domains",
                    reason="domain_taken",
                )
            try:
                await conn.execute(
                    _INSERT_SAML, connection.id, connection.account_id, connection.name,
                    connection.display_name, mapping, connection.provisioning_policy,
                    connection.profile_update, connection.default_space,
                    connection.default_space_role, connection.created_by, saml.idp_entity_id,
                    saml.sso_url, list(saml.certificates), saml.vendor, saml.name_id_format,
                    saml.sp_entity_id, saml.acs_url, saml.want_response_signed, saml.allow_sha1,
                    saml.allow_idp_initiated, saml.clock_skew_seconds, saml.sp_certificate,
                    sp_key.ciphertext if sp_key else None, sp_key.key_id if sp_key else None,
                    saml.metadata_url or None, saml.slo_url, connection.enabled,
                )  # fmt: skip
                await conn.execute(
                    _INSERT_DOMAINS, list(connection.domains), connection.id,
                    connection.account_id,
                )  # fmt: skip
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(
                    "the name or a domain is already taken",
                    field="connection",
                    reason="uniqueness",
                ) from None
            row = await conn.fetchrow(_FOR_LOGIN, connection.id)
        assert row is not None
        return connection_from_row(row)

    async def saml_refreshable(self) -> list[Connection]:
        """SAML connections whose IdP metadata URL is refreshed on a schedule."""
        return [connection_from_row(row) for row in await self._pool.fetch(_SAML_REFRESHABLE)]

    async def refresh_saml_idp(
        self, connection_id: uuid.UUID, entity_id: str, certificates: list[str], sso_url: str,
        slo_url: str = "",
    ) -> bool:  # fmt: skip
        """Stores refreshed IdP certificates, SSO and SLO URLs; True when something changed."""
        changed = await self._pool.fetchval(
            _SAML_REFRESH, connection_id, entity_id, certificates, sso_url, slo_url
        )
        return changed is not None

    async def get(self, account_id: uuid.UUID, connection_id: uuid.UUID) -> Connection:
        row = await self._pool.fetchrow(_BY_ID, account_id, connection_id)
        if row is None:
            raise NotFound("connection not found", field="connection_id")
        return connection_from_row(row)

    async def get_by_name(self, account_id: uuid.UUID, name: str) -> Connection:
        row = await self._pool.fetchrow(_BY_NAME, account_id, name)
        if row is None:
            raise NotFound("connection not found", field="name")
        return connection_from_row(row)

    async def for_login(self, connection_id: uuid.UUID) -> Connection | None:
        """The connection behind a login URL, whatever its account; None when unknown."""
        row = await self._pool.fetchrow(_FOR_LOGIN, connection_id)
        return None if row is None else connection_from_row(row)

    async def by_domain(self, account_id: uuid.UUID, domain: str) -> Connection | None:
        """The account's connection serving ``domain``, if any."""
        row = await self._pool.fetchrow(_BY_DOMAIN, account_id, domain)
        return None if row is None else connection_from_row(row)

    async def enabled(self, account_id: uuid.UUID) -> list[Connection]:
        return [connection_from_row(row) for row in await self._pool.fetch(_ENABLED, account_id)]

    async def list_page(
        self, account_id: uuid.UUID, *, limit: int, after: Cursor | None
    ) -> list[Connection]:
        if after is None:
            rows = await self._pool.fetch(_LIST_FIRST, account_id, limit)
        else:
            rows = await self._pool.fetch(_LIST_AFTER, account_id, limit, after.time, after.id)
        return [connection_from_row(row) for row in rows]

    async def update(
        self, account_id: uuid.UUID, connection_id: uuid.UUID, change: ConnectionChange
    ) -> Connection:
        """Replaces the changeable fields and the domains in one transaction, under the row
        lock; a version mismatch is FAILED_PRECONDITION, a domain another connection of the
        account serves ALREADY_EXISTS."""
        async with self._pool.acquire() as conn, conn.transaction():
            version = await conn.fetchval(_VERSION, account_id, connection_id)
            if version is None:
                raise NotFound("connection not found", field="connection_id")
            if change.expected_version and change.expected_version != version:
                raise FailedPrecondition(
                    "the connection changed since it was read",
                    field="expected_version",
                    reason="version_mismatch",
                )
            taken = await conn.fetch(
                _TAKEN_BY_OTHERS, list(change.domains), connection_id, account_id
            )
            if taken:
                raise AlreadyExists(
                    "another connection already serves "
                    + ", ".join(row["domain"] for row in taken)
                    + ": home-realm discovery must lead to one connection",
                    field="domains",
                    reason="domain_taken",
                )
            await conn.execute(
                _UPDATE, account_id, connection_id, change.display_name, change.enabled,
                change.provisioning_policy, change.default_space, change.default_space_role,
                change.profile_update,
                change.rp_logout,
            )  # fmt: skip
            await conn.execute(_DROP_DOMAINS, connection_id)
            await conn.execute(_INSERT_DOMAINS, list(change.domains), connection_id, account_id)
            row = await conn.fetchrow(_BY_ID, account_id, connection_id)
        assert row is not None
        return connection_from_row(row)

    async def delete(self, account_id: uuid.UUID, connection_id: uuid.UUID) -> None:
        """Deletes the connection with its domains and pending login transactions. Sessions it
        opened stay until they expire or are ended (the users still exist)."""
        if await self._pool.fetchval(_DELETE, account_id, connection_id) is None:
            raise NotFound("connection not found", field="connection_id")
