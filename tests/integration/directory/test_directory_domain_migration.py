"""Migration 0004 on an upgraded deployment: the domains of existing SSO connections become
pending claims of their accounts, so connections keep working and an operator verifies each
domain once."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import asyncpg

from meshkit.testing import PostgresServer, migrate
from tests.conftest import MIGRATIONS

_INSERT_CONNECTION = """
INSERT INTO auth.connections (id, account_id, name, display_name, protocol, attribute_mapping,
    provisioning_policy, profile_update, oidc_issuer, oidc_discovery_url, oidc_client_id,
    oidc_client_secret, oidc_client_secret_key_id, oidc_scopes, oidc_vendor,
    oidc_signing_algorithms)
VALUES ($1, $2, 'okta', 'Okta', 'oidc', '{}', 'create_users', 'first_login',
    'https://acme.okta.test', 'https://acme.okta.test/.well-known/openid-configuration',
    'client', '\\x00', 'k1', '{openid}', 'okta', '{RS256}')
"""


async def test_connection_domains_become_pending_claims_of_their_account(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Upgrade: every auth.connection_domains row is a pending claim of the connection's
    account after 0004, with its domain.claimed event; nothing is verified by the upgrade."""
    before_domains = tmp_path / "directory"
    before_domains.mkdir()
    for path in sorted(MIGRATIONS["directory"].glob("*.sql")):
        if path.name < "0004":
            shutil.copy(path, before_domains / path.name)
    url = await postgres.create_database()
    try:
        await migrate(url, {"directory": before_domains, "auth": MIGRATIONS["auth"]})
        conn = await asyncpg.connect(url)
        try:
            account_id = await conn.fetchval(
                "INSERT INTO directory.accounts (name) VALUES ('acme') RETURNING id"
            )
            connection_id = uuid.uuid4()
            await conn.execute(_INSERT_CONNECTION, connection_id, account_id)
            await conn.executemany(
                "INSERT INTO auth.connection_domains (domain, connection_id, account_id)"
                " VALUES ($1, $2, $3)",
                [(d, connection_id, account_id) for d in ("acme.test", "eu.acme.test")],
            )

            await migrate(url, {"directory": MIGRATIONS["directory"]})

            claims = await conn.fetch(
                "SELECT account_id, domain, status, length(challenge_token) AS token_length"
                " FROM directory.domains ORDER BY domain"
            )
            events = await conn.fetch(
                "SELECT action, details->>'how' AS how FROM directory.audit_events"
                " WHERE target_type = 'domain'"
            )
        finally:
            await conn.close()
    finally:
        await postgres.drop_database(url)

    assert [(c["account_id"], c["domain"], c["status"]) for c in claims] == [
        (account_id, "acme.test", "pending"),
        (account_id, "eu.acme.test", "pending"),
    ]
    assert all(c["token_length"] >= 16 for c in claims)
    assert [(e["action"], e["how"]) for e in events] == [("domain.claimed", "migration")] * 2
