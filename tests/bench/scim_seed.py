"""The accounts the SCIM rows read and write, filled straight in SQL: 100,000 users in seconds
(one INSERT … SELECT over generate_series), without audit events, since they are load, not
history. Users are named ``user-<i>@<domain>`` for i from 0, like the reference server's
(tests/bench/scim2_server_seeded.py), so both sides answer the same requests.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from idmesh.directory.v1 import directory_pb2
from infra.dev.mesh import Mesh
from tests.e2e.tenants import create_token

_ACTOR = directory_pb2.Actor(
    type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="make bench"
)

_USERS = """
INSERT INTO directory.users (account_id, user_name, external_id, name_given_name,
    name_family_name, name_formatted, display_name, emails, account_role_id, status)
SELECT $1::uuid, 'user-' || i || '@' || $2, 'ext-' || i, 'Given' || i, 'Family',
    'Given' || i || ' Family', 'User ' || i,
    jsonb_build_array(jsonb_build_object('value', 'user-' || i || '@' || $2, 'type', 'work',
        'primary', true, 'display', '')),
    (SELECT id FROM directory.roles WHERE account_id = $1::uuid AND name = 'Account Member'
        AND scope = 'account'),
    'pending'
FROM generate_series(0, $3::int - 1) AS i
RETURNING id::text, user_name
"""

_GROUP = """
INSERT INTO directory.groups (account_id, display_name, member_count)
VALUES ($1::uuid, $2, $3) RETURNING id::text
"""

_MEMBERS = """
INSERT INTO directory.group_members (account_id, group_id, user_id, source)
SELECT $1::uuid, $2::uuid, member, 'scim' FROM unnest($3::uuid[]) AS member
"""


async def account(stub: Any, mesh: Mesh, name: str) -> tuple[str, str]:
    """A new account and a users:manage token for it: (account id, token secret)."""
    created = (
        await stub.CreateAccount(
            directory_pb2.CreateAccountRequest(name=name, display_name=name, actor=_ACTOR)
        )
    ).account
    return created.id, await create_token(mesh, created.id)


def _index(user_name: str) -> int:
    return int(user_name.split("@", 1)[0].removeprefix("user-"))


async def seed_users(
    database_url: str, account_id: str, count: int, domain: str = ""
) -> list[tuple[str, str]]:
    """``count`` users straight into the directory's table: (id, userName) of each, user i at
    index i."""
    domain = domain or f"{account_id[:8]}.bench.example"
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_USERS, account_id, domain, count)
        await conn.execute("ANALYZE directory.users")
    finally:
        await conn.close()
    users = [(row["id"], row["user_name"]) for row in rows]
    return sorted(users, key=lambda user: _index(user[1]))


async def seed_group(database_url: str, account_id: str, member_ids: list[str]) -> str:
    """A group whose (SCIM) members are ``member_ids``; its id."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            group_id: str = await conn.fetchval(
                _GROUP, account_id, f"bench {len(member_ids)} members", len(member_ids)
            )
            await conn.execute(_MEMBERS, account_id, group_id, member_ids)
        await conn.execute("ANALYZE directory.group_members")
    finally:
        await conn.close()
    return group_id
