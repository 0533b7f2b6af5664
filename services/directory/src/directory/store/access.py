"""The reads behind GetUserAccess and CheckAccess: a user's roles everywhere, in two queries
(GetUserAccess) or one (CheckAccess), never one query per space or group."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from directory.store.base import Pool
from directory.store.users import COLUMNS as USER_COLUMNS
from meshkit.errors import NotFound

_U_COLUMNS = ", ".join(f"u.{c}" for c in USER_COLUMNS)

# The user and its account role (role columns prefixed "role_").
_USER_AND_ROLE = f"""
SELECT {_U_COLUMNS}, r.name AS account_role_name,
    r.id AS role_id, r.name AS role_name, r.scope AS role_scope,
    r.permissions AS role_permissions, r.built_in AS role_built_in,
    r.description AS role_description, r.create_time AS role_create_time,
    r.update_time AS role_update_time, r.version AS role_version
FROM directory.users u
JOIN directory.roles r ON r.account_id = u.account_id AND r.id = u.account_role_id
WHERE u.account_id = $1 AND u.id = $2
"""  # noqa: S608

# One row per role grant: direct memberships (group columns NULL), then one row per space role
# of each group the user is in, and one row with NULL space for a group that grants none, so
# that the user's groups come with the same query.
_GRANTS_AND_GROUPS = """
WITH my_groups AS (
    SELECT DISTINCT group_id FROM directory.group_members WHERE account_id = $1 AND user_id = $2
)
SELECT * FROM (
    SELECT m.space_id, s.name AS space_name, m.role_id, r.name AS role_name, r.permissions,
        m.source, NULL::uuid AS group_id, NULL::text AS group_name,
        NULL::text AS group_idp_identifier, NULL::bigint AS group_member_count,
        NULL::timestamptz AS group_create_time, NULL::timestamptz AS group_update_time,
        NULL::bigint AS group_version
    FROM directory.space_memberships m
    JOIN directory.spaces s ON s.account_id = m.account_id AND s.id = m.space_id
    JOIN directory.roles r ON r.account_id = m.account_id AND r.id = m.role_id
    WHERE m.account_id = $1 AND m.user_id = $2
    UNION ALL
    SELECT x.space_id, s.name, x.role_id, r.name, r.permissions, 'group', g.id, g.display_name,
        g.idp_identifier, g.member_count, g.create_time, g.update_time, g.version
    FROM my_groups mg
    JOIN directory.groups g ON g.account_id = $1 AND g.id = mg.group_id
    LEFT JOIN directory.group_space_roles x ON x.account_id = $1 AND x.group_id = g.id
    LEFT JOIN directory.spaces s ON s.account_id = $1 AND s.id = x.space_id
    LEFT JOIN directory.roles r ON r.account_id = $1 AND r.id = x.role_id
) grants
ORDER BY lower(space_name), space_id, group_id NULLS FIRST, lower(role_name)
"""

# The user's status and account role, the space ($3, may be NULL), and every role the user holds
# in it, directly or through a group: one row per grant, or one row with NULL grant columns.
_CHECK = """
SELECT u.status, r.name AS account_role_name, r.permissions AS account_permissions,
    s.id AS space_id, grant_.role_name, grant_.permissions, grant_.source, grant_.group_name
FROM directory.users u
JOIN directory.roles r ON r.account_id = u.account_id AND r.id = u.account_role_id
LEFT JOIN directory.spaces s ON s.account_id = u.account_id AND s.id = $3
LEFT JOIN LATERAL (
    SELECT gr.name AS role_name, gr.permissions, m.source, NULL::text AS group_name
    FROM directory.space_memberships m
    JOIN directory.roles gr ON gr.account_id = m.account_id AND gr.id = m.role_id
    WHERE m.account_id = u.account_id AND m.user_id = u.id AND m.space_id = s.id
    UNION ALL
    SELECT gr.name, gr.permissions, 'group', g.display_name
    FROM directory.group_space_roles x
    JOIN directory.groups g ON g.account_id = x.account_id AND g.id = x.group_id
    JOIN directory.roles gr ON gr.account_id = x.account_id AND gr.id = x.role_id
    WHERE x.account_id = u.account_id AND x.space_id = s.id
        AND EXISTS (SELECT 1 FROM directory.group_members gm
                    WHERE gm.account_id = x.account_id AND gm.group_id = x.group_id
                        AND gm.user_id = u.id)
) grant_ ON TRUE
WHERE u.account_id = $1 AND u.id = $2
"""


class AccessStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def user_access(
        self, account_id: UUID, user_id: UUID
    ) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
        """The user with its account role, and its grant and group rows (_GRANTS_AND_GROUPS)."""
        async with self.pool.acquire() as conn:
            user = await conn.fetchrow(_USER_AND_ROLE, account_id, user_id)
            if user is None:
                raise NotFound("user not found")
            grants = await conn.fetch(_GRANTS_AND_GROUPS, account_id, user_id)
        return user, grants

    async def check_rows(
        self, account_id: UUID, user_id: UUID, space_id: UUID | None
    ) -> list[asyncpg.Record]:
        """The rows of _CHECK; NOT_FOUND for an unknown user, or an unknown space when given."""
        rows = await self.pool.fetch(_CHECK, account_id, user_id, space_id)
        if not rows:
            raise NotFound("user not found")
        if space_id is not None and rows[0]["space_id"] is None:
            raise NotFound("space not found")
        return rows
